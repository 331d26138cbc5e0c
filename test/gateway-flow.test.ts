/**
 * The original web app's flows, driven with viem wallets on anvil against the gateway: sign in,
 * create and fund an organization on chain, see it through POST /orgs, add members, create a
 * project, register as a creator through the server, publish a product on chain, enable it for
 * the organization (on chain) and the project, and issue an API key that works.
 */
import { parseEther, type Address, type Hash } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { haitheOrchestratorAbi, haitheOrganizationAbi, type ChainWalletClient } from '../src/chain/index.js'
import { writeRoutes } from '../src/write/index.js'
import { decodeLogs, waitForSuccess } from './support/devchain.js'
import { startTestGateway, type TestGateway } from './support/gateway.js'
import { eventually } from './support/eventually.js'

interface OrgView { id: number; organization_uid: string; name: string; address: string; owner: string }
interface ProjectView { id: number; org_id: number; project_uid: string; name: string }
interface ProductView { id: number; address: string; creator: string; category: string; price_per_call: string }
interface TxView { id: number; status: string; tx_hash: string | null }

describe('the original client flows', () => {
  let gw: TestGateway
  let owner: ChainWalletClient
  let colleague: ChainWalletClient
  let creator: ChainWalletClient
  let ownerToken: string
  let colleagueToken: string
  let creatorToken: string
  let org: OrgView
  let project: ProjectView
  let product: ProductView

  beforeAll(async () => {
    gw = await startTestGateway()
    ;[owner, colleague, creator] = await Promise.all([gw.dev.wallet(1), gw.dev.wallet(2), gw.dev.wallet(3)])
  })
  afterAll(() => gw?.close())

  it('signs the wallets in with personal_sign; GET /me knows them', async () => {
    ;[ownerToken, colleagueToken, creatorToken] = await Promise.all([gw.signIn(owner), gw.signIn(colleague), gw.signIn(creator)])
    const me = await gw.call<{ address: string; registered: boolean }>('GET', '/api/v1/me', { token: ownerToken })
    expect(me.status).toBe(200)
    expect(me.body).toMatchObject({ success: true, data: { address: owner.account.address.toLowerCase(), registered: false } })
  })

  it('creates and funds an organization on chain and sees it through POST /orgs', async () => {
    const hash: Hash = await owner.writeContract({
      address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: ['Acme Research'],
    })
    const receipt = await waitForSuccess(gw.dev.publicClient, hash)
    const [created] = decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'OrganizationCreated' })
    const orgAddress = created!.args.organization.toLowerCase() as Address
    await gw.fund(orgAddress, parseEther('250'))

    const answer = await gw.call<OrgView>('POST', '/api/v1/orgs', { token: ownerToken, query: { tx_hash: hash } })
    expect([200, 201]).toContain(answer.status)
    org = answer.body.data
    expect(org).toMatchObject({ name: 'Acme Research', address: orgAddress, owner: owner.account.address.toLowerCase(), organization_uid: orgAddress.slice(2) })
    expect(Number.isInteger(org.id)).toBe(true)

    // The balance is the index's, which follows the transfer.
    const balance = await eventually(
      () => gw.call<unknown>('GET', `/api/v1/orgs/${org.id}/balance`, { token: ownerToken }),
      (a) => JSON.stringify(a.body.data).includes(parseEther('250').toString()),
      'organization balance',
    )
    expect(balance.status).toBe(200)
  })

  it('adds a colleague as admin, who then sees the organization', async () => {
    const add = await gw.call('POST', `/api/v1/orgs/${org.id}/members`, { token: ownerToken, query: { wallet_address: colleague.account.address, role: 'admin' } })
    expect(add.status).toBeLessThan(300)
    const mine = await gw.call<(OrgView & { role: string })[]>('GET', '/api/v1/me/orgs', { token: colleagueToken })
    expect(mine.body.data.map((o) => [o.id, o.role])).toContainEqual([org.id, 'admin'])
    // An outsider (the creator) sees nothing of it.
    const outsider = await gw.call('GET', `/api/v1/orgs/${org.id}`, { token: creatorToken })
    expect([403, 404]).toContain(outsider.status)
  })

  it('the colleague creates a project in it', async () => {
    const answer = await gw.call<ProjectView>('POST', '/api/v1/projects', { token: colleagueToken, query: { org_id: org.id, name: 'Support bot' } })
    expect(answer.status).toBeLessThan(300)
    project = answer.body.data
    expect(project).toMatchObject({ org_id: org.id, name: 'Support bot' })
    const listed = await gw.call<ProjectView[]>('GET', `/api/v1/orgs/${org.id}/projects`, { token: ownerToken })
    expect(listed.body.data.map((p) => p.id)).toContain(project.id)
  })

  it('registers the creator through the server (outbox) and the index then knows it', async () => {
    const answer = await gw.call<{ transaction?: TxView } & Partial<TxView>>('POST', '/api/v1/creator', {
      token: creatorToken, body: { uri: 'ipfs://creator-profile', pub_key: 'creator-public-key' },
    })
    expect(answer.status).toBeLessThan(300)
    const me = await eventually(
      () => gw.call<{ registered: boolean }>('GET', '/api/v1/me', { token: creatorToken }),
      (a) => a.body.data.registered,
      'creator registration',
    )
    expect(me.body.data.registered).toBe(true)
  })

  it('publishes a product on chain, which POST /products makes visible', async () => {
    const price = parseEther('0.002')
    const hash = await creator.writeContract({
      address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'addProduct',
      args: ['Support prompts', 'data:application/json,["Be kind"]', 'iv', 'key-for-tee', 'promptset', price],
    })
    await waitForSuccess(gw.dev.publicClient, hash)
    const answer = await gw.call<{ created: ProductView[] }>('POST', '/api/v1/products', { token: creatorToken, query: { tx_hash: hash } })
    expect(answer.status).toBe(200)
    expect(answer.body.data.created).toHaveLength(1)
    product = answer.body.data.created[0]!
    expect(product.category).toBe('promptset')
    expect(product).toMatchObject({ creator: creator.account.address.toLowerCase(), price_per_call: price.toString() })
  })

  it('the owner enables it on chain and for the project; the project prices the call', async () => {
    await waitForSuccess(gw.dev.publicClient, await owner.writeContract({
      address: org.address as Address, abi: haitheOrganizationAbi, functionName: 'enableProduct', args: [product.address as Address],
    }))
    const enable = await gw.call('POST', `/api/v1/products/${product.id}/enable`, { token: ownerToken, query: { project_id: project.id } })
    expect(enable.status).toBeLessThan(300)
    const products = await eventually(
      () => gw.call<{ product_ids: number[] }>('GET', `/api/v1/projects/${project.id}/products`, { token: colleagueToken }),
      (a) => a.body.data.product_ids.includes(product.id),
      'the project product list',
    )
    expect(products.body.data.product_ids).toEqual([product.id])
    const price = await gw.call<unknown>('GET', `/api/v1/projects/${project.id}/price-per-call`, { token: colleagueToken })
    expect(JSON.stringify(price.body.data)).toContain(product.price_per_call)
  })

  it('issues an sk- API key that authenticates as the wallet', async () => {
    const issued = await gw.call<{ api_key: string }>('GET', '/api/v1/me/api-key', { token: ownerToken })
    expect(issued.status).toBe(200)
    expect(issued.body.data.api_key).toMatch(/^sk-[0-9a-f]{40}\./)
    const me = await gw.call<{ address: string }>('GET', '/api/v1/me', { token: issued.body.data.api_key })
    expect(me.body.data.address).toBe(owner.account.address.toLowerCase())
    const orgs = await gw.call<OrgView[]>('GET', '/api/v1/me/orgs', { token: issued.body.data.api_key })
    expect(orgs.body.data.map((o) => o.id)).toContain(org.id)
  })

  it('documents every route, its parameters and who may call it in /api/openapi.json', async () => {
    const answer = await fetch(`${gw.url}/api/openapi.json`)
    expect(answer.status).toBe(200)
    const document = (await answer.json()) as { openapi: string; paths: Record<string, Record<string, { security?: unknown[]; parameters: { name: string; in: string }[] }>> }
    expect(document.openapi).toBe('3.1.0')
    for (const route of writeRoutes) {
      const operation = document.paths[`/api${route.path.replace(/:(\w+)/g, '{$1}')}`]?.[route.method.toLowerCase()]
      expect(operation, `${route.method} ${route.path}`).toBeDefined()
      expect(operation!.security !== undefined, `${route.method} ${route.path} security`).toBe(route.access !== 'public')
    }
    const login = document.paths['/api/v1/auth/login']!.post!
    expect(login.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(expect.arrayContaining(['query:address', 'query:signature']))
    const member = document.paths['/api/v1/orgs/{id}/members']!.post!
    expect(member.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(expect.arrayContaining(['path:id', 'query:wallet_address', 'query:role']))
  })
})
