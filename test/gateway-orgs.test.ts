/**
 * Organizations and projects through the gateway, over organizations created on a real chain:
 * POST /orgs finds what a wallet created (by transaction, by name, or its newest), and says
 * "pending" while the index lags; members and their rules; model enrolment; project settings,
 * members and products; balance and expenditure from the index.
 */
import { randomBytes } from 'node:crypto'
import { parseEther, type Address } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { haitheOrchestratorAbi, haitheOrganizationAbi, type ChainWalletClient } from '../src/chain/index.js'
import { decodeLogs, waitForSuccess } from './support/devchain.js'
import { startTestGateway, type GatewayAnswer, type TestGateway } from './support/gateway.js'
import { runIndexer } from './support/indexing.js'

let gw: TestGateway
let alice: ChainWalletClient // owns the organizations
let bob: ChainWalletClient // admin
let carol: ChainWalletClient // member
let dave: ChainWalletClient // project roles
let eve: ChainWalletClient // outsider
let creator: ChainWalletClient // publishes products
const tokens = new Map<string, string>()

/** A session for `wallet`, signed in through the gateway (one per wallet). */
async function tokenOf(wallet: ChainWalletClient): Promise<string> {
  const address = wallet.account.address.toLowerCase()
  let token = tokens.get(address)
  if (!token) {
    token = await gw.signIn(wallet)
    tokens.set(address, token)
  }
  return token
}

async function tokensOf<const T extends readonly ChainWalletClient[]>(...wallets: T): Promise<{ [K in keyof T]: string }> {
  return (await Promise.all(wallets.map(tokenOf))) as { [K in keyof T]: string }
}

const lower = (a: string) => a.toLowerCase()

async function createOrg(gateway: TestGateway, wallet: ChainWalletClient, name: string) {
  const hash = await wallet.writeContract({ address: gateway.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: [name] })
  const receipt = await waitForSuccess(gateway.dev.publicClient, hash)
  const [event] = decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'OrganizationCreated' })
  if (!event) throw new Error('no OrganizationCreated event')
  return { hash, address: lower(event.args.organization) as Address, id: Number(event.args.index) + 1, block: Number(receipt.blockNumber) }
}

/** Makes an organization visible (POST /orgs?tx_hash) and returns its id. */
async function visibleOrg(wallet: ChainWalletClient, name: string): Promise<{ id: number; address: Address }> {
  const org = await createOrg(gw, wallet, name)
  const answer = await gw.call<{ id: number }>('POST', '/api/v1/orgs', { query: { tx_hash: org.hash }, token: await tokenOf(wallet) })
  expect(answer.status, answer.text).toBe(200)
  return { id: answer.body.data.id, address: org.address }
}

function expectStatus(answer: GatewayAnswer, status: number, message?: RegExp) {
  expect(answer.status, answer.text).toBe(status)
  expect(answer.body.success).toBe(status < 300)
  if (message) expect(answer.body.message).toMatch(message)
}

beforeAll(async () => {
  gw = await startTestGateway()
  alice = await gw.dev.wallet(1)
  bob = await gw.dev.wallet(2)
  carol = await gw.dev.wallet(3)
  dave = await gw.dev.wallet(4)
  eve = await gw.dev.wallet(5)
  creator = await gw.dev.wallet(6)
})

afterAll(async () => {
  await gw?.close()
})

describe('POST /orgs', () => {
  it('answers with the organization a transaction created, by tx_hash, by name, or the newest of the caller', async () => {
    const token = await tokenOf(alice)
    const acme = await createOrg(gw, alice, 'Acme')
    const byHash = await gw.call<Record<string, unknown>>('POST', '/api/v1/orgs', { query: { tx_hash: acme.hash }, token })
    expectStatus(byHash, 200)
    expect(byHash.body.data).toMatchObject({
      id: acme.id, orchestrator_idx: acme.id, organization_uid: acme.address.slice(2), address: acme.address,
      owner: lower(alice.account.address), name: 'Acme', onchain_name: 'Acme', role: 'owner', created_block: acme.block, created_tx: acme.hash,
    })
    expect(Number.isNaN(Date.parse(byHash.body.data.created_at as string))).toBe(false)

    // The hash in a JSON body, the name, and no parameter at all find the same organization.
    const byBody = await gw.call<{ id: number }>('POST', '/api/v1/orgs', { body: { tx_hash: acme.hash.toUpperCase().replace('0X', '0x') }, token })
    expect(byBody.body.data.id).toBe(acme.id)
    const byName = await gw.call<{ id: number }>('POST', '/api/v1/orgs', { query: { name: 'Acme' }, token })
    expect(byName.body.data.id).toBe(acme.id)
    const newest = await gw.call<{ id: number }>('POST', '/api/v1/orgs', { token })
    expect(newest.body.data.id).toBe(acme.id)

    // No parameter: an organization created a moment ago is waited for, not missed.
    const second = await createOrg(gw, alice, 'Acme Two')
    const waited = await gw.call<{ id: number; name: string }>('POST', '/api/v1/orgs', { token })
    expectStatus(waited, 200)
    expect(waited.body.data).toMatchObject({ id: second.id, name: 'Acme Two' })

    // v1 enrolled its free model for every organization it saw.
    const models = await gw.call<{ id: number }[]>('GET', `/api/v1/orgs/${acme.id}/models`, { token })
    expect(models.body.data.map((m) => m.id)).toEqual([1])

    const mine = await gw.call<{ id: number; role: string }[]>('GET', '/api/v1/me/orgs', { token })
    expect(mine.body.data.map((o) => [o.id, o.role])).toEqual([[acme.id, 'owner'], [second.id, 'owner']])
  })

  it('refuses a transaction that is not the caller\'s createOrganization, and names that are not the caller\'s', async () => {
    const acme = await createOrg(gw, alice, 'Refusals Inc')
    const bobToken = await tokenOf(bob)
    expectStatus(await gw.call('POST', '/api/v1/orgs', { query: { tx_hash: acme.hash }, token: bobToken }), 403, /created by/)
    // A name is looked up in the index, which may not have reached the creation yet.
    await gw.indexer.caughtUp()
    expectStatus(await gw.call('POST', '/api/v1/orgs', { query: { name: 'Refusals Inc' }, token: bobToken }), 403, /owned by/)
    expectStatus(await gw.call('POST', '/api/v1/orgs', { token: bobToken }), 404, /own no organization/)

    const transfer = await alice.sendTransaction({ to: bob.account.address, value: 1n })
    await waitForSuccess(gw.dev.publicClient, transfer)
    const aliceToken = await tokenOf(alice)
    expectStatus(await gw.call('POST', '/api/v1/orgs', { query: { tx_hash: transfer }, token: aliceToken }), 400, /not a createOrganization/)
    expectStatus(await gw.call('POST', '/api/v1/orgs', { query: { tx_hash: `0x${randomBytes(32).toString('hex')}` }, token: aliceToken }), 400, /knows no transaction/)
    expectStatus(await gw.call('POST', '/api/v1/orgs', { query: { tx_hash: '0x1234' }, token: aliceToken }), 400, /tx_hash/)
    expectStatus(await gw.call('POST', '/api/v1/orgs', { query: { tx_hash: acme.hash, name: 'Other' }, token: aliceToken }), 400, /not "Other"/)
    expectStatus(await gw.call('POST', '/api/v1/orgs', { query: { name: 'Never Created' }, token: aliceToken }), 404, /no organization named/)
    expectStatus(await gw.call('POST', '/api/v1/orgs', { query: { name: 'Acme' } }), 401)
  })

  it('answers 202 pending while the index has not reached the creation block, and the organization once it has', async () => {
    // A second gateway on the same chain, with its own database and a short wait.
    const lagging = await startTestGateway({ dev: gw.dev, config: { gateway: { indexWaitMs: 200 } } })
    let restarted: ReturnType<typeof runIndexer> | undefined
    try {
      await lagging.indexer.caughtUp()
      await lagging.indexer.stop()
      const org = await createOrg(lagging, alice, 'Lagging Ltd')
      const token = await lagging.signIn(alice)

      const byHash = await lagging.call('POST', '/api/v1/orgs', { query: { tx_hash: org.hash }, token })
      expectStatus(byHash, 202, /has not reached block/)
      expect(byHash.body.data).toEqual({ status: 'pending', tx_hash: org.hash, block_number: org.block })
      const byName = await lagging.call<{ status: string; block_number: number }>('POST', '/api/v1/orgs', { query: { name: 'Lagging Ltd' }, token })
      expectStatus(byName, 202)
      expect(byName.body.data.status).toBe('pending')
      expect(byName.body.data.block_number).toBeGreaterThanOrEqual(org.block)
      expectStatus(await lagging.call('POST', '/api/v1/orgs', { token }), 202)

      // Not even mined yet: pending without a block.
      await gw.dev.testClient.setAutomine(false)
      let unmined: `0x${string}`
      try {
        unmined = await alice.writeContract({ address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: ['Unmined Ltd'] })
        const answer = await lagging.call('POST', '/api/v1/orgs', { query: { tx_hash: unmined }, token })
        expectStatus(answer, 202, /not mined yet/)
        expect(answer.body.data).toEqual({ status: 'pending', tx_hash: unmined, block_number: null })
      } finally {
        await gw.dev.testClient.mine({ blocks: 1 })
        await gw.dev.testClient.setAutomine(true)
      }
      await waitForSuccess(gw.dev.publicClient, unmined)

      restarted = runIndexer(lagging.database.db, lagging.database.kind, lagging.chain)
      await restarted.caughtUp()
      const found = await lagging.call<{ id: number; address: string }>('POST', '/api/v1/orgs', { query: { tx_hash: org.hash }, token })
      expectStatus(found, 200)
      expect(found.body.data).toMatchObject({ id: org.id, address: org.address })
    } finally {
      await restarted?.stop()
      await lagging.close()
    }
  })
})

describe('organizations', () => {
  it('members: the owner manages everyone, an admin plain members, anyone may leave', async () => {
    const { id } = await visibleOrg(alice, 'Members Co')
    const [ownerT, adminT, memberT, daveT, outsiderT] = await tokensOf(alice, bob, carol, dave, eve)
    const members = `/api/v1/orgs/${id}/members`
    const add = (token: string, wallet: ChainWalletClient, role: string) => gw.call('POST', members, { query: { wallet_address: wallet.account.address, role }, token })

    const added = await add(ownerT, bob, 'admin')
    expectStatus(added, 201)
    expect(added.body.data).toMatchObject({ org_id: id, wallet_address: lower(bob.account.address), role: 'admin' })
    expectStatus(await add(ownerT, bob, 'member'), 409, /already is a member/)
    expectStatus(await add(ownerT, alice, 'member'), 409, /owns the organization/)
    expectStatus(await add(ownerT, carol, 'owner'), 400, /role: must be admin or member/)
    expectStatus(await gw.call('POST', members, { query: { wallet_address: 'nope', role: 'member' }, token: ownerT }), 400, /wallet_address/)
    // An admin adds members but not admins.
    expectStatus(await add(adminT, carol, 'member'), 201)
    expectStatus(await add(adminT, dave, 'admin'), 403, /only the owner/)
    expectStatus(await add(adminT, dave, 'member'), 201)
    // A member cannot manage; an outsider cannot even read.
    expectStatus(await add(memberT, eve, 'member'), 403)
    expectStatus(await gw.call('GET', members, { token: outsiderT }), 403)

    const list = await gw.call<{ wallet_address: string; role: string }[]>('GET', members, { token: memberT })
    expectStatus(list, 200)
    expect(list.body.data.map((m) => [m.wallet_address, m.role])).toEqual([
      [lower(bob.account.address), 'admin'], [lower(carol.account.address), 'member'], [lower(dave.account.address), 'member'],
    ])

    // Roles: an admin cannot promote, cannot touch the owner; the owner can.
    const patch = (token: string, wallet: ChainWalletClient, role: string) => gw.call('PATCH', members, { query: { wallet_address: wallet.account.address, role }, token })
    expectStatus(await patch(adminT, carol, 'admin'), 403, /only the owner/)
    expectStatus(await patch(adminT, alice, 'member'), 403, /owner/)
    expectStatus(await patch(ownerT, eve, 'member'), 404, /not a member/)
    expectStatus(await patch(ownerT, carol, 'admin'), 200)
    expectStatus(await gw.call('DELETE', members, { query: { wallet_address: carol.account.address }, token: adminT }), 403, /only the owner removes admins/)
    expectStatus(await patch(ownerT, carol, 'member'), 200)

    const remove = (token: string, wallet: ChainWalletClient) => gw.call('DELETE', members, { query: { wallet_address: wallet.account.address }, token })
    expectStatus(await remove(adminT, alice), 403, /owner cannot be removed/)
    expectStatus(await remove(memberT, dave), 403)
    expectStatus(await remove(daveT, dave), 200) // leaves
    expectStatus(await remove(adminT, carol), 200)
    expectStatus(await remove(adminT, carol), 404)
    expectStatus(await remove(adminT, bob), 200) // an admin leaves too

    const bobsOrgs = await gw.call<{ id: number }[]>('GET', '/api/v1/me/orgs', { token: adminT })
    expect(bobsOrgs.body.data.map((o) => o.id)).not.toContain(id)
    expectStatus(await gw.call('GET', `/api/v1/orgs/${id}`, { token: adminT }), 403)
    expectStatus(await gw.call('GET', '/api/v1/orgs/99999/members', { token: ownerT }), 404)
  })

  it('display name and archiving: application state only the owner changes', async () => {
    const { id, address } = await visibleOrg(alice, 'Rename Me')
    const [ownerT, adminT, outsiderT] = await tokensOf(alice, bob, eve)
    await gw.call('POST', `/api/v1/orgs/${id}/members`, { query: { wallet_address: bob.account.address, role: 'admin' }, token: ownerT })
    const project = await gw.call<{ id: number }>('POST', '/api/v1/projects', { query: { org_id: id, name: 'Doomed' }, token: ownerT })
    expectStatus(project, 201)

    expectStatus(await gw.call('PATCH', `/api/v1/orgs/${id}`, { query: { name: 'Nope' }, token: adminT }), 403, /owner/)
    expectStatus(await gw.call('PATCH', `/api/v1/orgs/${id}`, { query: { name: '  ' }, token: ownerT }), 400, /name/)
    expectStatus(await gw.call('PATCH', `/api/v1/orgs/${id}`, { query: { name: 'Renamed', colour: 'red' }, token: ownerT }), 400, /unknown parameter/)
    const renamed = await gw.call<{ name: string; onchain_name: string }>('PATCH', `/api/v1/orgs/${id}`, { query: { name: 'Renamed' }, token: ownerT })
    expectStatus(renamed, 200)
    expect(renamed.body.data).toMatchObject({ name: 'Renamed', onchain_name: 'Rename Me' })
    const seen = await gw.call<{ name: string; role: string }>('GET', `/api/v1/orgs/${id}`, { token: adminT })
    expect(seen.body.data).toMatchObject({ name: 'Renamed', role: 'admin' })

    expectStatus(await gw.call('DELETE', `/api/v1/orgs/${id}`, { token: adminT }), 403)
    const archived = await gw.call<{ archived_at: string }>('DELETE', `/api/v1/orgs/${id}`, { token: ownerT })
    expectStatus(archived, 200)
    expect(Number.isNaN(Date.parse(archived.body.data.archived_at))).toBe(false)

    // Gone for those who knew it, forbidden as ever for others, out of every list.
    expectStatus(await gw.call('GET', `/api/v1/orgs/${id}`, { token: ownerT }), 410, /archived/)
    expectStatus(await gw.call('GET', `/api/v1/orgs/${id}/members`, { token: adminT }), 410)
    expectStatus(await gw.call('GET', `/api/v1/orgs/${id}`, { token: outsiderT }), 403)
    expectStatus(await gw.call('GET', `/api/v1/projects/${project.body.data.id}`, { token: ownerT }), 410)
    expectStatus(await gw.call('POST', '/api/v1/projects', { query: { org_id: id, name: 'After' }, token: ownerT }), 410)
    expectStatus(await gw.call('POST', '/api/v1/orgs', { query: { name: 'Rename Me' }, token: ownerT }), 410)
    const mine = await gw.call<{ id: number }[]>('GET', '/api/v1/me/orgs', { token: ownerT })
    expect(mine.body.data.map((o) => o.id)).not.toContain(id)
    const projects = await gw.call<{ id: number }[]>('GET', '/api/v1/me/projects', { token: ownerT })
    expect(projects.body.data.map((p) => p.id)).not.toContain(project.body.data.id)
    // It is still on chain.
    expect(await gw.dev.publicClient.readContract({ address, abi: haitheOrganizationAbi, functionName: 'name' })).toBe('Rename Me')
  })

  it('model enrolment over the catalogue', async () => {
    const catalogue = await gw.call<{ id: number; name: string; is_active: boolean; price_per_call: string; provider: string; display_name: string }[]>('GET', '/api/v1/models')
    expectStatus(catalogue, 200)
    expect(catalogue.body.data).toHaveLength(12)
    expect(catalogue.body.data[1]).toEqual({
      id: 2, name: 'gemini-2.0-flash-lite', display_name: 'Gemini 2.0 Flash Lite', provider: 'google', is_active: true, price_per_call: '100000000000000',
    })

    const { id } = await visibleOrg(alice, 'Models Inc')
    const [ownerT, adminT, memberT, outsiderT] = await tokensOf(alice, bob, carol, eve)
    await gw.call('POST', `/api/v1/orgs/${id}/members`, { query: { wallet_address: bob.account.address, role: 'admin' }, token: ownerT })
    await gw.call('POST', `/api/v1/orgs/${id}/members`, { query: { wallet_address: carol.account.address, role: 'member' }, token: ownerT })
    const models = `/api/v1/orgs/${id}/models`

    const enrolled = await gw.call<{ id: number; name: string }>('POST', models, { query: { model_id: 4 }, token: adminT })
    expectStatus(enrolled, 200)
    expect(enrolled.body.data).toMatchObject({ id: 4, name: 'gemini-2.5-flash' })
    expectStatus(await gw.call('POST', models, { query: { model_id: 4 }, token: ownerT }), 200) // again: no change
    expectStatus(await gw.call('POST', models, { query: { model_id: 3 }, token: ownerT }), 400, /not active/)
    expectStatus(await gw.call('POST', models, { query: { model_id: 99 }, token: ownerT }), 404, /does not exist/)
    expectStatus(await gw.call('POST', models, { query: { model_id: 'x' }, token: ownerT }), 400, /model_id/)
    expectStatus(await gw.call('POST', models, { query: { model_id: 6 }, token: memberT }), 403)
    expectStatus(await gw.call('GET', models, { token: outsiderT }), 403)
    const list = await gw.call<{ id: number; enrolled_at: string }[]>('GET', models, { token: memberT })
    expect(list.body.data.map((m) => m.id)).toEqual([1, 4])

    expectStatus(await gw.call('DELETE', models, { query: { model_id: 4 }, token: memberT }), 403)
    expectStatus(await gw.call('DELETE', models, { query: { model_id: 4 }, token: adminT }), 200)
    expectStatus(await gw.call('DELETE', models, { query: { model_id: 4 }, token: adminT }), 404, /not enrolled/)
  })

  it('balance and expenditure come from the index and match the chain', async () => {
    const { id, address } = await visibleOrg(alice, 'Funded Org')
    const [ownerT, adminT, memberT] = await tokensOf(alice, bob, carol)
    await gw.call('POST', `/api/v1/orgs/${id}/members`, { query: { wallet_address: bob.account.address, role: 'admin' }, token: ownerT })
    await gw.call('POST', `/api/v1/orgs/${id}/members`, { query: { wallet_address: carol.account.address, role: 'member' }, token: ownerT })
    await gw.fund(address, parseEther('1234.5'))
    await gw.indexer.caughtUp()

    const onChain = await gw.dev.publicClient.readContract({ address, abi: haitheOrganizationAbi, functionName: 'balance' })
    expect(onChain).toBe(parseEther('1234.5'))
    const balance = await gw.call<{ balance: string }>('GET', `/api/v1/orgs/${id}/balance`, { token: adminT })
    expectStatus(balance, 200)
    expect(balance.body.data.balance).toBe(onChain.toString())
    expectStatus(await gw.call('GET', `/api/v1/orgs/${id}/balance`, { token: memberT }), 403)

    const spent = await gw.call('GET', `/api/v1/orgs/${id}/expenditure`, { token: ownerT })
    expectStatus(spent, 200)
    expect(spent.body.data).toEqual({ expenditure: '0', settled: '0', unsettled: '0' })
    expectStatus(await gw.call('GET', `/api/v1/orgs/${id}/expenditure`, { token: memberT }), 403)
  })
})

describe('projects', () => {
  it('create, settings (validated), members, delete', async () => {
    const { id: orgId, address } = await visibleOrg(alice, 'Projects Org')
    const [ownerT, adminT, memberT, daveT, outsiderT] = await tokensOf(alice, bob, carol, dave, eve)
    await gw.call('POST', `/api/v1/orgs/${orgId}/members`, { query: { wallet_address: bob.account.address, role: 'admin' }, token: ownerT })
    await gw.call('POST', `/api/v1/orgs/${orgId}/members`, { query: { wallet_address: carol.account.address, role: 'member' }, token: ownerT })

    expectStatus(await gw.call('POST', '/api/v1/projects', { query: { org_id: orgId, name: 'X' }, token: memberT }), 403)
    expectStatus(await gw.call('POST', '/api/v1/projects', { query: { org_id: orgId, name: 'X' }, token: outsiderT }), 403)
    expectStatus(await gw.call('POST', '/api/v1/projects', { query: { org_id: orgId }, token: ownerT }), 400, /name/)
    expectStatus(await gw.call('POST', '/api/v1/projects', { query: { org_id: 99999, name: 'X' }, token: ownerT }), 404)
    const created = await gw.call<Record<string, unknown> & { id: number }>('POST', '/api/v1/projects', { query: { org_id: orgId, name: 'Agent' }, token: adminT })
    expectStatus(created, 201)
    expect(created.body.data).toMatchObject({
      org_id: orgId, name: 'Agent', search_enabled: false, memory_enabled: false, default_model_id: null, organization: address, role: 'admin', org_role: 'admin',
    })
    expect(created.body.data.project_uid).toMatch(/^[0-9a-f-]{36}$/)
    const pid = created.body.data.id
    const project = `/api/v1/projects/${pid}`

    // Settings.
    const flags = await gw.call<{ search_enabled: boolean; memory_enabled: boolean }>('PATCH', project, { query: { search_enabled: 'true', memory_enabled: '1' }, token: ownerT })
    expectStatus(flags, 200)
    expect(flags.body.data).toMatchObject({ search_enabled: true, memory_enabled: true })
    const viaJson = await gw.call<{ memory_enabled: boolean; name: string }>('PATCH', project, { body: { memory_enabled: false, name: 'Agent 2' }, token: adminT })
    expect(viaJson.body.data).toMatchObject({ memory_enabled: false, name: 'Agent 2' })
    expectStatus(await gw.call('PATCH', project, { query: { search_enabled: 'yes' }, token: ownerT }), 400, /search_enabled: must be true or false/)
    expectStatus(await gw.call('PATCH', project, { token: ownerT }), 400, /nothing to change/)
    expectStatus(await gw.call('PATCH', project, { query: { serch_enabled: 'true' }, token: ownerT }), 400, /unknown parameter/)
    expectStatus(await gw.call('PATCH', project, { query: { default_model_id: 8 }, token: ownerT }), 400, /not enrolled/)
    expectStatus(await gw.call('PATCH', project, { query: { default_model_id: 99 }, token: ownerT }), 400, /does not exist/)
    expectStatus(await gw.call('PATCH', project, { query: { default_model_id: 'gpt' }, token: ownerT }), 400, /default_model_id/)
    await gw.call('POST', `/api/v1/orgs/${orgId}/models`, { query: { model_id: 8 }, token: ownerT })
    const withModel = await gw.call<{ default_model_id: number | null }>('PATCH', project, { query: { default_model_id: 8 }, token: ownerT })
    expectStatus(withModel, 200)
    expect(withModel.body.data.default_model_id).toBe(8)
    expectStatus(await gw.call('DELETE', `/api/v1/orgs/${orgId}/models`, { query: { model_id: 8 }, token: ownerT }), 409, /default/)
    const cleared = await gw.call<{ default_model_id: number | null }>('PATCH', project, { body: { default_model_id: null }, token: ownerT })
    expect(cleared.body.data.default_model_id).toBeNull()
    expectStatus(await gw.call('PATCH', project, { query: { name: 'x' }, token: memberT }), 403)

    // Members: project roles.
    const members = `${project}/members`
    const add = (token: string, wallet: ChainWalletClient, role: string) => gw.call('POST', members, { query: { wallet_address: wallet.account.address, role }, token })
    expectStatus(await add(ownerT, dave, 'developer'), 201)
    expectStatus(await add(ownerT, dave, 'viewer'), 409)
    expectStatus(await add(ownerT, eve, 'owner'), 400, /admin, developer or viewer/)
    expectStatus(await add(ownerT, alice, 'viewer'), 409, /owns the organization/)
    expectStatus(await add(daveT, eve, 'viewer'), 403) // a developer does not manage members
    expectStatus(await add(memberT, eve, 'viewer'), 403) // nor does a plain organization member
    expectStatus(await gw.call('GET', project, { token: daveT }), 200)
    expectStatus(await gw.call('GET', members, { token: memberT }), 200)
    expectStatus(await gw.call('PATCH', project, { query: { name: 'dev' }, token: daveT }), 403)
    expectStatus(await gw.call('PATCH', members, { query: { wallet_address: dave.account.address, role: 'admin' }, token: adminT }), 200)
    // Now a project admin (not an organization member): manages members, not settings.
    expectStatus(await add(daveT, eve, 'viewer'), 201)
    expectStatus(await gw.call('PATCH', project, { query: { name: 'admin' }, token: daveT }), 403)
    const daveSees = await gw.call<{ id: number; role: string; org_role: string | null }[]>('GET', '/api/v1/me/projects', { token: daveT })
    expect(daveSees.body.data.find((p) => p.id === pid)).toMatchObject({ role: 'admin', org_role: null })
    const eveSees = await gw.call<{ id: number; role: string }[]>('GET', '/api/v1/me/projects', { token: outsiderT })
    expect(eveSees.body.data.find((p) => p.id === pid)).toMatchObject({ role: 'viewer' })
    expectStatus(await gw.call('GET', `/api/v1/orgs/${orgId}/projects`, { token: outsiderT }), 403) // a project viewer is not an organization member
    expectStatus(await gw.call('DELETE', members, { query: { wallet_address: eve.account.address }, token: outsiderT }), 200) // leaves
    expectStatus(await gw.call('DELETE', members, { query: { wallet_address: eve.account.address }, token: daveT }), 404)
    const list = await gw.call<{ wallet_address: string; role: string; project_id: number }[]>('GET', members, { token: daveT })
    expect(list.body.data).toEqual([{ project_id: pid, wallet_address: lower(dave.account.address), role: 'admin', created_at: expect.any(String) }])

    const orgProjects = await gw.call<{ id: number }[]>('GET', `/api/v1/orgs/${orgId}/projects`, { token: memberT })
    expect(orgProjects.body.data.map((p) => p.id)).toEqual([pid])

    // Delete: organization owner or admin only; then it is gone.
    expectStatus(await gw.call('DELETE', project, { token: daveT }), 403)
    expectStatus(await gw.call('DELETE', project, { token: adminT }), 200)
    expectStatus(await gw.call('GET', project, { token: ownerT }), 404)
    expectStatus(await gw.call('DELETE', project, { token: ownerT }), 404)
    const after = await gw.call<{ id: number }[]>('GET', '/api/v1/me/projects', { token: daveT })
    expect(after.body.data.map((p) => p.id)).not.toContain(pid)
  })

  it('products: the project\'s enabled products the organization has enabled on chain, and their price per call', async () => {
    const { id: orgId, address: org } = await visibleOrg(alice, 'Shop Org')
    const ownerT = await tokenOf(alice)
    const created = await gw.call<{ id: number }>('POST', '/api/v1/projects', { query: { org_id: orgId, name: 'Buyer' }, token: ownerT })
    const pid = created.body.data.id

    // A creator (registered through the gateway's outbox) publishes two products.
    await gw.registerCreator(creator)
    const publish = async (name: string, price: bigint) => {
      const receipt = await waitForSuccess(gw.dev.publicClient, await creator.writeContract({
        address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'addProduct', args: [name, `ipfs://${name}`, 'iv', 'key', 'promptset', price],
      }))
      const [event] = decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'ProductCreated' })
      if (!event) throw new Error('no ProductCreated')
      return { address: lower(event.args.product) as Address, id: Number(event.args.index) + 1 }
    }
    const cheap = await publish('cheap prompts', parseEther('0.001'))
    const dear = await publish('dear prompts', parseEther('0.25'))
    const enable = async (product: Address, fn: 'enableProduct' | 'disableProduct') =>
      waitForSuccess(gw.dev.publicClient, await alice.writeContract({ address: org, abi: haitheOrganizationAbi, functionName: fn, args: [product] }))
    await enable(cheap.address, 'enableProduct')
    await enable(dear.address, 'enableProduct')
    await gw.indexer.caughtUp()

    // The project uses `cheap` and `dear` (the market's enable route writes these rows; this test writes them itself).
    await gw.database.db.insertInto('app.project_products').values([{ project_id: String(pid), product: cheap.address }, { project_id: String(pid), product: dear.address }]).execute()
    const products = () => gw.call<{ product_ids: number[] }>('GET', `/api/v1/projects/${pid}/products`, { token: ownerT })
    const price = () => gw.call<{ total_price_per_call: string }>('GET', `/api/v1/projects/${pid}/price-per-call`, { token: ownerT })
    expect((await products()).body.data.product_ids).toEqual([cheap.id, dear.id])
    expect((await price()).body.data.total_price_per_call).toBe(parseEther('0.251').toString())

    // Disabled on chain: no longer used, whatever the project says.
    await enable(dear.address, 'disableProduct')
    await gw.indexer.caughtUp()
    expect((await products()).body.data.product_ids).toEqual([cheap.id])
    expect((await price()).body.data.total_price_per_call).toBe(parseEther('0.001').toString())
    expectStatus(await gw.call('GET', `/api/v1/projects/${pid}/products`, { token: await tokenOf(eve) }), 403)
  })
})
