/**
 * Every route of the gateway × every role: owner, admin and member of organization A; admin,
 * developer and viewer of A's project P (not members of A); an outsider (who owns organization B
 * with project Q); and no credentials at all. Each route has a row saying who is allowed; allowed
 * callers get the row's success status (a 2xx, or the one non-auth status the route answers
 * everyone), refused ones 403 or 404, anonymous ones 401 where the route needs a wallet. Then
 * A's people try B's ids (its organization, its project, its owner's transaction): 403 or 404.
 *
 * A route without a row fails the test: a new route must say who may call it.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto'
import { encodeFunctionData, type Address, type Hash } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { haitheOrchestratorAbi, haitheOrganizationAbi, testUSDTAbi, type ChainWalletClient } from '../src/chain/index.js'
import { createSession } from '../src/write/auth/sessions.js'
import { writeRoutes } from '../src/write/index.js'
import { decodeLogs, waitForSuccess } from './support/devchain.js'
import { startTestGateway, type CallOptions, type GatewayAnswer, type TestGateway } from './support/gateway.js'

type Role = 'anonymous' | 'outsider' | 'viewer' | 'developer' | 'projectAdmin' | 'member' | 'admin' | 'owner'
/** In this order: the owner last, so what it may change (archive, delete) happens after the others tried. */
const ROLES: readonly Role[] = ['anonymous', 'outsider', 'viewer', 'developer', 'projectAdmin', 'member', 'admin', 'owner']
/** Roles that have something to do with organization A (guessing B's ids is tried with each). */
const INSIDERS: readonly Role[] = ['viewer', 'developer', 'projectAdmin', 'member', 'admin', 'owner']

const ORG_READERS: readonly Role[] = ['owner', 'admin', 'member']
const ORG_MANAGERS: readonly Role[] = ['owner', 'admin']
const PROJECT_READERS: readonly Role[] = ['owner', 'admin', 'member', 'projectAdmin', 'developer', 'viewer']
const PROJECT_ADMINS: readonly Role[] = ['owner', 'admin', 'projectAdmin']
const PRODUCT_USERS: readonly Role[] = ['owner', 'admin', 'projectAdmin', 'developer']

const WEBHOOK_SECRET = 'roles-test-webhook-secret-0123456789'

/** One organization's ids, which a row's request targets: A's (the callers' own) or B's (guessed). */
interface Target {
  orgId: number
  /** Archived by DELETE /orgs/:id (A has a spare for it; B's is never archived: every caller is refused). */
  spareOrgId: number
  projectId: number
  /** The createOrganization transaction of the organization. */
  createdTx: Hash
  /** A server transaction sent for the organization's owner. */
  ownerTxId: string
  /** The owner's session, to set up what a row's request needs (a member to remove, a project to delete). */
  ownerToken: string
  /** Project roles to give in projects made for a row (P's roles for A; none for B). */
  projectRoles: readonly (readonly [Address, 'admin' | 'developer' | 'viewer'])[]
}

interface Scene {
  role: Role
  /** The caller's wallet (none for anonymous). */
  wallet: Address | undefined
  target: Target
}

interface Request extends Omit<CallOptions, 'token'> {
  params?: Record<string, string | number>
  /** Another credential than the role's session (undefined: none). */
  token?: string | undefined
}

interface Row {
  /** Who may call it: everyone (also anonymous), any signed-in wallet, or these roles. */
  allow: 'everyone' | 'signed-in' | readonly Role[]
  /** What an allowed call answers (default 200). */
  ok?: readonly number[]
  request?: (scene: Scene) => Request | Promise<Request>
  /** Its request targets the organization's ids: B's must be refused to A's people. */
  scoped?: boolean
}

let gw: TestGateway
const wallets = {} as Record<Exclude<Role, 'anonymous'>, ChainWalletClient> & { creator: ChainWalletClient }
const tokens = {} as Record<Exclude<Role, 'anonymous'>, string>
let home: Target // A
let away: Target // B
let productId: number

const lower = (a: string) => a.toLowerCase() as Address
const randomAddress = () => lower(`0x${randomBytes(20).toString('hex')}`)

async function must<T>(answer: Promise<GatewayAnswer<T>>, what: string): Promise<T> {
  const a = await answer
  if (a.status >= 300) throw new Error(`${what}: ${a.status} ${a.text}`)
  return a.body.data
}

/** A session for `wallet`, signed in through the gateway. */
const signIn = (wallet: ChainWalletClient): Promise<string> => gw.signIn(wallet)

async function createOrg(wallet: ChainWalletClient, name: string): Promise<{ hash: Hash; id: number }> {
  const hash = await wallet.writeContract({ address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: [name] })
  const receipt = await waitForSuccess(gw.dev.publicClient, hash)
  const [event] = decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'OrganizationCreated' })
  if (!event) throw new Error('no OrganizationCreated event')
  const token = await signIn(wallet)
  await must(gw.call('POST', '/api/v1/orgs', { query: { tx_hash: hash }, token }), `POST /orgs ${name}`)
  return { hash, id: Number(event.args.index) + 1 }
}

async function addOrgMember(orgId: number, ownerToken: string, address: Address, role: 'admin' | 'member') {
  await must(gw.call('POST', `/api/v1/orgs/${orgId}/members`, { query: { wallet_address: address, role }, token: ownerToken }), 'add org member')
}

async function addProjectMember(projectId: number, ownerToken: string, address: Address, role: 'admin' | 'developer' | 'viewer') {
  await must(gw.call('POST', `/api/v1/projects/${projectId}/members`, { query: { wallet_address: address, role }, token: ownerToken }), 'add project member')
}

async function freshProject(target: Target, name: string): Promise<number> {
  const project = await must(gw.call<{ id: number }>('POST', '/api/v1/projects', { query: { org_id: target.orgId, name }, token: target.ownerToken }), 'create project')
  for (const [address, role] of target.projectRoles) await addProjectMember(project.id, target.ownerToken, address, role)
  return project.id
}

/** A transaction the server sends for `wallet` (a zero tUSDT transfer to it). */
async function serverTransactionFor(wallet: Address): Promise<string> {
  const entry = await gw.w.outbox.enqueue({
    idempotencyKey: `roles-test:${wallet}`, kind: 'roles-test', to: gw.chain.contracts.tusdt,
    data: encodeFunctionData({ abi: testUSDTAbi, functionName: 'transfer', args: [wallet, 0n] }), requestedBy: wallet,
  })
  return entry.id
}

const org = ({ target }: Scene): Request => ({ params: { id: target.orgId } })
const project = ({ target }: Scene): Request => ({ params: { id: target.projectId } })
/** A conversation the target organization's owner started in its project (only its wallet may see it). */
const ownerConversation = async ({ target }: Scene): Promise<Request> => ({
  params: { id: (await must(gw.call<{ id: string }>('POST', '/api/v1beta/chat/conversations', { body: { project_id: target.projectId }, token: target.ownerToken }), 'create conversation')).id },
})

/** Who may call each route, and how to call it. Keys are `METHOD path` exactly as in the route table. */
const matrix: Record<string, Row> = {
  // ---- sign-in, me, keys (auth) ----
  'GET /v1/auth/nonce': { allow: 'everyone', request: ({ wallet }) => ({ query: { address: wallet ?? randomAddress() } }) },
  'POST /v1/auth/login': {
    allow: 'everyone',
    // A wallet signs in whatever credentials the request also carries.
    async request() {
      const account = privateKeyToAccount(generatePrivateKey())
      const nonce = await must(gw.call<{ nonce: string }>('GET', '/api/v1/auth/nonce', { query: { address: account.address } }), 'nonce')
      return { query: { address: account.address, signature: await account.signMessage({ message: nonce.nonce }) } }
    },
  },
  'POST /v1/auth/logout': {
    allow: 'signed-in',
    // Its own session, so the role's stays usable.
    request: async ({ wallet }) => ({ token: wallet ? (await createSession(gw.w, wallet, {})).token : undefined }),
  },
  'GET /v1/me': { allow: 'signed-in' },
  'GET /v1/me/sessions': { allow: 'signed-in' },
  'DELETE /v1/me/sessions/:id': {
    allow: 'signed-in',
    request: async ({ wallet }) => ({ params: { id: wallet ? (await createSession(gw.w, wallet, {})).sessionId : randomUUID() } }),
  },
  'GET /v1/me/api-key': {
    allow: 'signed-in',
    async request({ role }) {
      if (role !== 'anonymous') await must(gw.call('POST', '/api/v1/me/api-key/disable', { token: tokens[role] }), 'disable key')
      return {}
    },
  },
  'POST /v1/me/api-key/disable': { allow: 'signed-in' },
  'GET /v1/me/api-key/last-issued': { allow: 'signed-in' },
  'POST /v1/projects/:id/keys': { allow: PROJECT_ADMINS, ok: [201], scoped: true, request: (s) => ({ ...project(s), query: { role: 'developer', name: 'matrix' } }) },
  'GET /v1/projects/:id/keys': { allow: PROJECT_ADMINS, scoped: true, request: project },
  'DELETE /v1/projects/:id/keys/:keyId': {
    allow: PROJECT_ADMINS, scoped: true,
    async request({ target }) {
      const key = await must(gw.call<{ id: number }>('POST', `/api/v1/projects/${target.projectId}/keys`, { query: { role: 'viewer' }, token: target.ownerToken }), 'create key')
      return { params: { id: target.projectId, keyId: key.id } }
    },
  },

  // ---- organizations ----
  'GET /v1/models': { allow: 'everyone' },
  'GET /v1/me/orgs': { allow: 'signed-in' },
  'POST /v1/orgs': { allow: ['owner'], scoped: true, request: ({ target }) => ({ query: { tx_hash: target.createdTx } }) },
  'GET /v1/orgs/:id': { allow: ORG_READERS, scoped: true, request: org },
  'PATCH /v1/orgs/:id': { allow: ['owner'], scoped: true, request: (s) => ({ ...org(s), query: { name: `Renamed by ${s.role}` } }) },
  'DELETE /v1/orgs/:id': { allow: ['owner'], scoped: true, request: ({ target }) => ({ params: { id: target.spareOrgId } }) },
  'GET /v1/orgs/:id/projects': { allow: ORG_READERS, scoped: true, request: org },
  'GET /v1/orgs/:id/members': { allow: ORG_READERS, scoped: true, request: org },
  'POST /v1/orgs/:id/members': { allow: ORG_MANAGERS, ok: [201], scoped: true, request: (s) => ({ ...org(s), query: { wallet_address: randomAddress(), role: 'member' } }) },
  'PATCH /v1/orgs/:id/members': {
    allow: ORG_MANAGERS, scoped: true,
    async request(s) {
      const address = randomAddress()
      await addOrgMember(s.target.orgId, s.target.ownerToken, address, 'member')
      return { ...org(s), query: { wallet_address: address, role: 'member' } }
    },
  },
  'DELETE /v1/orgs/:id/members': {
    allow: ORG_MANAGERS, scoped: true,
    async request(s) {
      const address = randomAddress()
      await addOrgMember(s.target.orgId, s.target.ownerToken, address, 'member')
      return { ...org(s), query: { wallet_address: address } }
    },
  },
  'GET /v1/orgs/:id/models': { allow: ORG_READERS, scoped: true, request: org },
  'POST /v1/orgs/:id/models': { allow: ORG_MANAGERS, scoped: true, request: (s) => ({ ...org(s), query: { model_id: 2 } }) },
  'DELETE /v1/orgs/:id/models': {
    allow: ORG_MANAGERS, scoped: true,
    async request(s) {
      await must(gw.call('POST', `/api/v1/orgs/${s.target.orgId}/models`, { query: { model_id: 5 }, token: s.target.ownerToken }), 'enrol model')
      return { ...org(s), query: { model_id: 5 } }
    },
  },
  'GET /v1/orgs/:id/balance': { allow: ORG_MANAGERS, scoped: true, request: org },
  'GET /v1/orgs/:id/expenditure': { allow: ORG_MANAGERS, scoped: true, request: org },
  'GET /v1/orgs/:id/usage': { allow: ORG_MANAGERS, scoped: true, request: org },
  'GET /v1/orgs/:id/reconciliation': { allow: ORG_MANAGERS, scoped: true, request: org },
  'GET /v1/orgs/:id/settlements': { allow: ORG_MANAGERS, scoped: true, request: org },

  // ---- conversation memory (each wallet sees only the conversations it started) ----
  'GET /v1beta/chat/conversations': { allow: 'signed-in' },
  'POST /v1beta/chat/conversations': { allow: PRODUCT_USERS, ok: [201], scoped: true, request: ({ target }) => ({ body: { project_id: target.projectId } }) },
  'GET /v1beta/chat/conversations/:id': { allow: ['owner'], scoped: true, request: ownerConversation },
  'PATCH /v1beta/chat/conversations/:id': { allow: ['owner'], scoped: true, request: async (s) => ({ ...(await ownerConversation(s)), body: { title: `renamed by ${s.role}` } }) },
  'DELETE /v1beta/chat/conversations/:id': { allow: ['owner'], scoped: true, request: ownerConversation },
  'GET /v1beta/chat/conversations/:id/messages': { allow: ['owner'], scoped: true, request: ownerConversation },
  'POST /v1beta/chat/conversations/:id/messages': { allow: ['owner'], ok: [201], scoped: true, request: async (s) => ({ ...(await ownerConversation(s)), body: { messages: [{ role: 'user', content: 'hi' }] } }) },

  // ---- projects ----
  'GET /v1/me/projects': { allow: 'signed-in' },
  'POST /v1/projects': { allow: ORG_MANAGERS, ok: [201], scoped: true, request: ({ target, role }) => ({ query: { org_id: target.orgId, name: `by ${role}` } }) },
  'GET /v1/projects/:id': { allow: PROJECT_READERS, scoped: true, request: project },
  'PATCH /v1/projects/:id': { allow: ORG_MANAGERS, scoped: true, request: (s) => ({ ...project(s), query: { search_enabled: true } }) },
  'DELETE /v1/projects/:id': {
    allow: ORG_MANAGERS, scoped: true,
    request: async ({ target }) => ({ params: { id: await freshProject(target, 'to delete') } }),
  },
  'GET /v1/projects/:id/members': { allow: PROJECT_READERS, scoped: true, request: project },
  'POST /v1/projects/:id/members': { allow: PROJECT_ADMINS, ok: [201], scoped: true, request: (s) => ({ ...project(s), query: { wallet_address: randomAddress(), role: 'developer' } }) },
  'PATCH /v1/projects/:id/members': {
    allow: PROJECT_ADMINS, scoped: true,
    async request(s) {
      const address = randomAddress()
      await addProjectMember(s.target.projectId, s.target.ownerToken, address, 'viewer')
      return { ...project(s), query: { wallet_address: address, role: 'developer' } }
    },
  },
  'DELETE /v1/projects/:id/members': {
    allow: PROJECT_ADMINS, scoped: true,
    async request(s) {
      const address = randomAddress()
      await addProjectMember(s.target.projectId, s.target.ownerToken, address, 'viewer')
      return { ...project(s), query: { wallet_address: address } }
    },
  },
  'GET /v1/projects/:id/products': { allow: PROJECT_READERS, scoped: true, request: project },
  'GET /v1/projects/:id/price-per-call': { allow: PROJECT_READERS, scoped: true, request: project },

  // ---- market: creators, products, stats, faucet, TEE ----
  'GET /v1/creator': { allow: 'everyone' },
  'GET /v1/creator/:address': { allow: 'everyone', request: () => ({ params: { address: wallets.creator.account.address } }) },
  'GET /v1/creator/:address/products': { allow: 'everyone', request: () => ({ params: { address: wallets.creator.account.address } }) },
  // Registers the caller (a server transaction); the wait for the index is bounded, so 202 is fine.
  'POST /v1/creator': { allow: 'signed-in', ok: [200, 202], request: () => ({ body: { uri: 'ipfs://matrix', pub_key: 'matrix-pub-key' } }) },
  'GET /v1/products': { allow: 'everyone' },
  'GET /v1/products/:id': { allow: 'everyone', request: () => ({ params: { id: productId } }) },
  'POST /v1/products': { allow: 'signed-in', ok: [200, 202] },
  // The product's creator only: none of the matrix roles (the creator itself is checked below).
  'PATCH /v1/products/:id': { allow: [], request: () => ({ params: { id: productId }, body: { description: 'changed' } }) },
  'POST /v1/products/:id/enable': { allow: PRODUCT_USERS, scoped: true, request: ({ target }) => ({ params: { id: productId }, query: { project_id: target.projectId } }) },
  'DELETE /v1/products/:id/disable': { allow: PRODUCT_USERS, scoped: true, request: ({ target }) => ({ params: { id: productId }, query: { project_id: target.projectId } }) },
  'GET /v1/stats': { allow: 'everyone' },
  'GET /v1/me/faucet': { allow: 'signed-in' },
  'POST /v1/me/faucet': { allow: 'signed-in', ok: [200, 202] },
  'GET /v1/tee/pub-key': { allow: 'everyone' },
  // No attestation provider is configured: everyone gets the same 501.
  'GET /v1/tee/attest': { allow: 'everyone', ok: [501] },

  // ---- webhooks (public, authenticated by their own signature) ----
  'POST /v1beta/webhook/:provider': {
    allow: 'everyone',
    request() {
      const body = { id: `evt_${randomUUID()}`, type: 'ping', data: {} }
      const signature = createHmac('sha256', WEBHOOK_SECRET).update(JSON.stringify(body)).digest('hex')
      return { params: { provider: 'generic' }, body, headers: { 'x-haithe-signature': signature } }
    },
  },

  // ---- server transactions ----
  // The organization owner's transaction: only the wallet it was sent for sees it.
  'GET /v1/tx/:id': { allow: ['owner'], scoped: true, request: ({ target }) => ({ params: { id: target.ownerTxId } }) },
}

const keyOf = (r: { method: string; path: string }) => `${r.method} ${r.path}`

function isAllowed(row: Row, role: Role): boolean {
  if (row.allow === 'everyone') return true
  if (role === 'anonymous') return false
  return row.allow === 'signed-in' || row.allow.includes(role)
}

function needsWallet(key: string): boolean {
  const found = writeRoutes.find((r) => keyOf(r) === key)
  return found !== undefined && found.access !== 'public'
}

function fill(path: string, params: Record<string, string | number>): string {
  return path.replace(/:([A-Za-z_]+)/g, (_, name: string) => {
    const value = params[name]
    if (value === undefined) throw new Error(`no value for :${name} in ${path}`)
    return encodeURIComponent(String(value))
  })
}

async function run(key: string, row: Row, role: Role, target: Target): Promise<GatewayAnswer> {
  const [method, path] = key.split(' ') as [string, string]
  const wallet = role === 'anonymous' ? undefined : lower(wallets[role].account.address)
  const request = (await row.request?.({ role, wallet, target })) ?? {}
  const token = 'token' in request ? request.token : role === 'anonymous' ? undefined : tokens[role]
  const { params, token: _token, ...options } = request
  return gw.call(method, `/api${fill(path, params ?? {})}`, { ...options, ...(token ? { token } : {}) })
}

/** What went wrong, or undefined when `answer` is what `role` should get. */
function verdict(key: string, row: Row, role: Role, answer: GatewayAnswer): string | undefined {
  const got = `${answer.status} ${answer.body?.message ?? answer.text.slice(0, 120)}`
  if (isAllowed(row, role)) {
    const ok = row.ok ?? [200]
    return ok.includes(answer.status) ? undefined : `${role}: allowed, expected ${ok.join('/')}, got ${got}`
  }
  if (role === 'anonymous' && needsWallet(key)) return answer.status === 401 ? undefined : `${role}: expected 401, got ${got}`
  return answer.status === 403 || answer.status === 404 ? undefined : `${role}: refused, expected 403/404, got ${got}`
}

beforeAll(async () => {
  gw = await startTestGateway({ config: { gateway: { indexWaitMs: 3_000 }, webhooks: { generic: { secret: WEBHOOK_SECRET } } } })
  const indices = { owner: 1, admin: 2, member: 3, projectAdmin: 4, developer: 5, viewer: 6, outsider: 7, creator: 8 } as const
  for (const [role, index] of Object.entries(indices)) wallets[role as keyof typeof wallets] = await gw.dev.wallet(index)
  for (const role of ROLES) if (role !== 'anonymous') tokens[role] = await signIn(wallets[role])
  const address = (role: keyof typeof wallets) => lower(wallets[role].account.address)

  // Organization A (and a spare to archive) of the owner, with an admin and a member; B of the outsider.
  const a = await createOrg(wallets.owner, 'Alpha')
  const spare = await createOrg(wallets.owner, 'Alpha Spare')
  const b = await createOrg(wallets.outsider, 'Beta')
  for (const id of [a.id, spare.id]) {
    await addOrgMember(id, tokens.owner, address('admin'), 'admin')
    await addOrgMember(id, tokens.owner, address('member'), 'member')
  }
  const projectRoles = [[address('projectAdmin'), 'admin'], [address('developer'), 'developer'], [address('viewer'), 'viewer']] as const
  home = {
    orgId: a.id, spareOrgId: spare.id, projectId: 0, createdTx: a.hash, ownerTxId: await serverTransactionFor(address('owner')),
    ownerToken: tokens.owner, projectRoles,
  }
  home.projectId = await freshProject(home, 'P')
  away = { orgId: b.id, spareOrgId: b.id, projectId: 0, createdTx: b.hash, ownerTxId: await serverTransactionFor(address('outsider')), ownerToken: tokens.outsider, projectRoles: [] }
  away.projectId = await freshProject(away, 'Q')

  // A product of the creator (registered through the gateway's outbox: its key is the orchestrator's server), enabled by A on chain.
  await gw.registerCreator(wallets.creator)
  const published = await waitForSuccess(gw.dev.publicClient, await wallets.creator.writeContract({
    address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'addProduct', args: ['matrix prompts', 'ipfs://p', 'iv', 'key', 'promptset', 10n ** 15n],
  }))
  const [created] = decodeLogs(haitheOrchestratorAbi, published, { eventName: 'ProductCreated' })
  if (!created) throw new Error('no ProductCreated event')
  productId = Number(created.args.index) + 1
  const orgAddress = (await must(gw.call<{ address: Address }>('GET', `/api/v1/orgs/${a.id}`, { token: tokens.owner }), 'org')).address
  await waitForSuccess(gw.dev.publicClient, await wallets.owner.writeContract({ address: orgAddress, abi: haitheOrganizationAbi, functionName: 'enableProduct', args: [created.args.product] }))
  await gw.indexer.caughtUp()
}, 120_000)

afterAll(async () => {
  await gw?.close()
})

describe('role matrix', () => {
  it('has a row for every route of the gateway, and no row without a route', () => {
    const routes = writeRoutes.map(keyOf)
    expect(routes.filter((key) => !(key in matrix)), 'routes without a row in the matrix').toEqual([])
    expect(Object.keys(matrix).filter((key) => !routes.includes(key)), 'rows for routes that do not exist').toEqual([])
    expect(routes.filter((key, i) => routes.indexOf(key) !== i), 'routes declared twice').toEqual([])
  })

  for (const [key, row] of Object.entries(matrix)) {
    it(`${key}: ${row.allow === 'everyone' || row.allow === 'signed-in' ? row.allow : row.allow.join(', ') || 'nobody in the matrix'}`, async () => {
      if (!writeRoutes.some((r) => keyOf(r) === key)) return // reported by the coverage test
      const wrong: string[] = []
      for (const role of ROLES) {
        const problem = verdict(key, row, role, await run(key, row, role, home))
        if (problem) wrong.push(problem)
      }
      expect(wrong).toEqual([])
    })
  }

  it('another organization\'s ids (organization, project, transaction) give 403 or 404 to every role of A', async () => {
    const wrong: string[] = []
    for (const [key, row] of Object.entries(matrix)) {
      if (!row.scoped || !writeRoutes.some((r) => keyOf(r) === key)) continue
      for (const role of INSIDERS) {
        const answer = await run(key, row, role, away)
        if (answer.status !== 403 && answer.status !== 404) wrong.push(`${key} as ${role} on B's ids: ${answer.status} ${answer.body?.message ?? ''}`)
      }
    }
    expect(wrong).toEqual([])
  })

  it('the product\'s creator, outside the matrix roles, may change it', async () => {
    const token = await signIn(wallets.creator)
    const answer = await gw.call('PATCH', `/api/v1/products/${productId}`, { body: { description: 'by its creator' }, token })
    expect(answer.status, answer.text).toBe(200)
  })
})
