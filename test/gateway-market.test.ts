/**
 * The gateway's marketplace routes against anvil, the real database and HTTP: creators
 * registered through the outbox (once, however often the wallet asks), products published on
 * chain by their creator and shown from the index, their details set by the creator only,
 * product enablement per project, the tUSDT faucet (once an hour, enforced in the database even
 * for concurrent requests), stats, and the TEE routes.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import { parseUnits, type Address, type Hash } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { haitheCreatorIdentityAbi, haitheOrchestratorAbi, haitheOrganizationAbi, haitheProductAbi, testUSDTAbi, type ChainWalletClient } from '../src/chain/index.js'
import { devWalletKey, waitForSuccess } from './support/devchain.js'
import { GATEWAY_KEY_INDEX, startTestGateway, type TestGateway } from './support/gateway.js'

let gw: TestGateway

beforeAll(async () => {
  gw = await startTestGateway()
})
afterAll(async () => {
  await gw?.close()
})

const lower = (a: string) => a.toLowerCase() as Address

/** A session token for `wallet`, signed in through GET /auth/nonce and POST /auth/login. */
const tokenOf = (wallet: ChainWalletClient): Promise<string> => gw.signIn(wallet)

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function send(wallet: ChainWalletClient, request: Parameters<ChainWalletClient['writeContract']>[0]): Promise<Hash> {
  const hash = await wallet.writeContract(request)
  await waitForSuccess(gw.dev.publicClient, hash)
  return hash
}

const tusdtOf = (address: Address) =>
  gw.dev.publicClient.readContract({ address: gw.dev.deployment.tusdt, abi: testUSDTAbi, functionName: 'balanceOf', args: [address] })

interface Creator { wallet_address: string; token_id: string; uri: string; pub_key?: string | null }
interface Product { id: number; address: string; creator: string; name: string; category: string; price_per_call: string; description: string | null; photo_url: string | null }
interface Transaction { id: number; status: string; tx_hash: string | null; poll: string }

describe('creators and products', () => {
  let creator: ChainWalletClient
  let creatorToken: string
  let product: Product

  beforeAll(async () => {
    creator = await gw.dev.wallet(11)
    creatorToken = await tokenOf(creator)
  })

  it('registers the caller as a creator through the outbox, one transaction for a double submit', async () => {
    const body = { uri: 'ipfs://creator-11', pub_key: '0x04abcdef' }
    const [first, second] = await Promise.all([
      gw.call<{ status: string; transaction: Transaction; wallet_address: string }>('POST', '/api/v1/creator', { token: creatorToken, body }),
      gw.call<{ status: string; transaction: Transaction }>('POST', '/api/v1/creator', { token: creatorToken, body }),
    ])
    for (const answer of [first, second]) expect([200, 202], answer.text).toContain(answer.status)
    expect(first.body.data.transaction.id).toBe(second.body.data.transaction.id)
    expect(first.body.data.wallet_address).toBe(lower(creator.account.address))
    expect(first.body.data.transaction.poll).toBe(`/api/v1/tx/${first.body.data.transaction.id}`)

    const found = await until('the creator in the index', async () => {
      const answer = await gw.call<{ creator: Creator }>('GET', `/api/v1/creator/${creator.account.address}`)
      return answer.status === 200 ? answer.body.data.creator : undefined
    })
    expect(found).toMatchObject({ wallet_address: lower(creator.account.address), uri: body.uri, pub_key: body.pub_key })

    // On chain: one identity, one registration event, one outbox row.
    const token = await gw.dev.publicClient.readContract({ address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'creators', args: [creator.account.address] })
    expect(token.toString()).toBe(found.token_id)
    const events = await gw.dev.publicClient.getContractEvents({ address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, eventName: 'CreatorRegistered', args: { creator: creator.account.address }, fromBlock: 0n })
    expect(events).toHaveLength(1)
    const seed = await gw.dev.publicClient.readContract({ address: gw.dev.deployment.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'pvtKeySeeds', args: [token] })
    expect(seed).not.toBe(`0x${'0'.repeat(64)}`)
    const rows = await gw.database.db.selectFrom('app.tx_outbox').select('id').where('kind', '=', 'register-creator').where('requested_by', '=', lower(creator.account.address)).execute()
    expect(rows).toHaveLength(1)

    // Once a creator, asking again is a conflict.
    const again = await gw.call('POST', '/api/v1/creator', { token: creatorToken, body })
    expect(again.status).toBe(409)
    expect(again.body.success).toBe(false)
  })

  it('refuses a registration without a session or without uri', async () => {
    expect((await gw.call('POST', '/api/v1/creator', { body: { uri: 'x', pub_key: 'y' } })).status).toBe(401)
    const missing = await gw.call('POST', '/api/v1/creator', { token: creatorToken, body: { pub_key: 'y' } })
    expect(missing.status).toBe(400)
    expect(missing.body.message).toMatch(/uri/)
  })

  it('shows a product the creator published on chain once POST /products has seen its transaction', async () => {
    const price = parseUnits('0.002', 18)
    const hash = await send(creator, {
      address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'addProduct',
      args: ['market-test product', 'ipfs://product', 'iv', 'key-for-tee', 'knowledge:text', price],
    })
    const answer = await gw.call<{ status: string; created: Product[]; products: Product[]; count: number }>('POST', '/api/v1/products', { token: creatorToken, query: { tx_hash: hash } })
    expect(answer.status, answer.text).toBe(200)
    expect(answer.body.data.status).toBe('indexed')
    expect(answer.body.data.created).toHaveLength(1)
    product = answer.body.data.created[0]!
    expect(product).toMatchObject({ creator: lower(creator.account.address), name: 'market-test product', category: 'knowledge:text', price_per_call: price.toString() })
    expect(answer.body.data.products.map((p) => p.id)).toContain(product.id)

    // The product's id is its orchestrator index + 1.
    const onChain = await gw.dev.publicClient.readContract({ address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'products', args: [BigInt(product.id - 1)] })
    expect(lower(onChain)).toBe(product.address)

    // Without a hash: the caller's products once the index has reached the head.
    const mine = await gw.call<{ status: string; products: Product[] }>('POST', '/api/v1/products', { token: creatorToken })
    expect(mine.status).toBe(200)
    expect(mine.body.data.products.map((p) => p.address)).toEqual([product.address])

    // A transaction that created no product, and one the node does not know.
    const transfer = await send(creator, { address: gw.dev.deployment.tusdt, abi: testUSDTAbi, functionName: 'transfer', args: [creator.account.address, 0n] })
    expect((await gw.call('POST', '/api/v1/products', { token: creatorToken, query: { tx_hash: transfer } })).status).toBe(400)
    expect((await gw.call('POST', '/api/v1/products', { token: creatorToken, query: { tx_hash: `0x${'ab'.repeat(32)}` } })).status).toBe(404)
  })

  it('lists creators and products as they are on chain', async () => {
    const orchestrator = gw.dev.deployment.orchestrator
    const count = await gw.dev.publicClient.readContract({ address: orchestrator, abi: haitheOrchestratorAbi, functionName: 'productsCount' })
    const expected = []
    for (let i = 0n; i < count; i++) {
      const address = await gw.dev.publicClient.readContract({ address: orchestrator, abi: haitheOrchestratorAbi, functionName: 'products', args: [i] })
      const read = <F extends 'name' | 'pricePerCall' | 'creator' | 'category'>(functionName: F) =>
        gw.dev.publicClient.readContract({ address, abi: haitheProductAbi, functionName })
      expected.push({ id: Number(i) + 1, address: lower(address), name: await read('name'), price_per_call: (await read('pricePerCall')).toString(), creator: lower(await read('creator')), category: await read('category') })
    }
    const products = await gw.call<{ products: Product[] }>('GET', '/api/v1/products')
    expect(products.status).toBe(200)
    expect(products.body.data.products.map(({ id, address, name, price_per_call, creator: c, category }) => ({ id, address, name, price_per_call, creator: c, category })).sort((a, b) => a.id - b.id)).toEqual(expected)

    const registered = await gw.dev.publicClient.getContractEvents({ address: orchestrator, abi: haitheOrchestratorAbi, eventName: 'CreatorRegistered', fromBlock: 0n })
    const creators = await gw.call<{ creators: Creator[] }>('GET', '/api/v1/creator')
    expect(creators.body.data.creators.map((c) => [c.wallet_address, c.token_id]).sort()).toEqual(registered.map((e) => [lower(e.args.creator!), e.args.tokenId!.toString()]).sort())

    const byCreator = await gw.call<{ products: Product[] }>('GET', `/api/v1/creator/${creator.account.address}/products`)
    expect(byCreator.body.data.products.map((p) => p.id)).toEqual([product.id])
    const filtered = await gw.call<{ products: Product[] }>('GET', '/api/v1/products', { query: { creator: creator.account.address, category: 'knowledge:text' } })
    expect(filtered.body.data.products.map((p) => p.id)).toEqual([product.id])
    expect((await gw.call<{ products: Product[] }>('GET', '/api/v1/products', { query: { category: 'tool:rs' } })).body.data.products).toEqual([])

    const one = await gw.call<{ product: Product }>('GET', `/api/v1/products/${product.id}`)
    expect(one.body.data.product).toMatchObject({ id: product.id, address: product.address })
    expect((await gw.call('GET', '/api/v1/products/999999')).status).toBe(404)
    expect((await gw.call('GET', '/api/v1/products/abc')).status).toBe(400)
    expect((await gw.call('GET', `/api/v1/creator/${lower(privateKeyToAccount(devWalletKey(99)).address)}`)).status).toBe(404)
    expect((await gw.call('GET', '/api/v1/creator/not-an-address')).status).toBe(400)

    const stats = await gw.call<{ products: string; creators: string; organizations: string; server: { address: string } }>('GET', '/api/v1/stats')
    expect(stats.status).toBe(200)
    expect(stats.body.data.products).toBe(count.toString())
    expect(stats.body.data.creators).toBe(String(registered.length))
    expect(stats.body.data.server.address).toBe(lower(gw.w.account.address))
  })

  it("lets the product's creator, and no one else, set its description and photo", async () => {
    const patched = await gw.call<{ product: Product }>('PATCH', `/api/v1/products/${product.id}`, {
      token: creatorToken, body: { description: 'A fine product', photo_url: 'https://example.com/p.png' },
    })
    expect(patched.status, patched.text).toBe(200)
    expect(patched.body.data.product).toMatchObject({ description: 'A fine product', photo_url: 'https://example.com/p.png' })
    const shown = await gw.call<{ product: Product }>('GET', `/api/v1/products/${product.id}`)
    expect(shown.body.data.product).toMatchObject({ description: 'A fine product', photo_url: 'https://example.com/p.png' })

    // Only the description changes; the photo stays.
    await gw.call('PATCH', `/api/v1/products/${product.id}`, { token: creatorToken, query: { description: 'Better' } })
    expect((await gw.call<{ product: Product }>('GET', `/api/v1/products/${product.id}`)).body.data.product).toMatchObject({ description: 'Better', photo_url: 'https://example.com/p.png' })

    const other = await tokenOf(await gw.dev.wallet(12))
    const refused = await gw.call('PATCH', `/api/v1/products/${product.id}`, { token: other, body: { description: 'mine now' } })
    expect(refused.status).toBe(403)
    expect((await gw.call('PATCH', `/api/v1/products/${product.id}`, { token: creatorToken, body: { photo_url: 'http://example.com/p.png' } })).status).toBe(400)
    expect((await gw.call('PATCH', `/api/v1/products/${product.id}`, { token: creatorToken, body: {} })).status).toBe(400)
    expect((await gw.call('PATCH', `/api/v1/products/${product.id}`, { body: { description: 'anon' } })).status).toBe(401)
    expect((await gw.call<{ product: Product }>('GET', `/api/v1/products/${product.id}`)).body.data.product.description).toBe('Better')
  })

  describe('enabling products for a project', () => {
    let owner: ChainWalletClient
    let ownerToken: string
    let organization: Address
    let projectId: number

    beforeAll(async () => {
      owner = await gw.dev.wallet(13)
      ownerToken = await tokenOf(owner)
      const hash = await send(owner, { address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: ['market-test org'] })
      const receipt = await gw.dev.publicClient.getTransactionReceipt({ hash })
      await gw.indexer.caughtUp(Number(receipt.blockNumber))
      const org = await gw.database.db.selectFrom('chain.organizations').select('address').where('name', '=', 'market-test org').executeTakeFirstOrThrow()
      organization = org.address as Address
      const project = await gw.database.db
        .insertInto('app.projects')
        .values({ uid: randomUUID(), chain_id: gw.chain.chainId, organization, name: 'market-test project' })
        .returning('id')
        .executeTakeFirstOrThrow()
      projectId = Number(project.id)
    })

    const enabledProducts = async () =>
      (await gw.database.db.selectFrom('app.project_products').select('product').where('project_id', '=', String(projectId)).execute()).map((r) => r.product)

    it('enables for the org owner, saying when the org has not enabled it on chain', async () => {
      const answer = await gw.call<{ enabled: boolean; effective: boolean; enabled_by_organization: boolean }>('POST', `/api/v1/products/${product.id}/enable`, { token: ownerToken, query: { project_id: projectId } })
      expect(answer.status, answer.text).toBe(200)
      expect(answer.body.data).toMatchObject({ enabled: true, enabled_by_organization: false, effective: false })
      expect(answer.body.message).toMatch(/once organization \d+ enables it on chain/)
      expect(await enabledProducts()).toEqual([product.address])

      const hash = await send(owner, { address: organization, abi: haitheOrganizationAbi, functionName: 'enableProduct', args: [product.address as Address] })
      await gw.indexer.caughtUp(Number((await gw.dev.publicClient.getTransactionReceipt({ hash })).blockNumber))
      const again = await gw.call<{ effective: boolean }>('POST', `/api/v1/products/${product.id}/enable`, { token: ownerToken, query: { project_id: projectId } })
      expect(again.status).toBe(200)
      expect(again.body.data.effective).toBe(true)
      expect(await enabledProducts()).toEqual([product.address])
    })

    it('lets a project developer enable and disable, and refuses viewers and outsiders', async () => {
      const developer = await gw.dev.wallet(14)
      const viewer = await gw.dev.wallet(15)
      await gw.database.db.insertInto('app.project_members').values([
        { project_id: String(projectId), address: lower(developer.account.address), role: 'developer' },
        { project_id: String(projectId), address: lower(viewer.account.address), role: 'viewer' },
      ]).execute()
      const developerToken = await tokenOf(developer)
      const disabled = await gw.call<{ was_enabled: boolean }>('DELETE', `/api/v1/products/${product.id}/disable`, { token: developerToken, query: { project_id: projectId } })
      expect(disabled.status, disabled.text).toBe(200)
      expect(disabled.body.data.was_enabled).toBe(true)
      expect(await enabledProducts()).toEqual([])

      const viewerToken = await tokenOf(viewer)
      expect((await gw.call('POST', `/api/v1/products/${product.id}/enable`, { token: viewerToken, query: { project_id: projectId } })).status).toBe(403)
      const outsider = await tokenOf(await gw.dev.wallet(16))
      expect((await gw.call('POST', `/api/v1/products/${product.id}/enable`, { token: outsider, query: { project_id: projectId } })).status).toBe(403)
      expect((await gw.call('DELETE', `/api/v1/products/${product.id}/disable`, { token: outsider, query: { project_id: projectId } })).status).toBe(403)
      expect(await enabledProducts()).toEqual([])

      expect((await gw.call('POST', `/api/v1/products/${product.id}/enable`, { token: developerToken, query: { project_id: projectId } })).status).toBe(200)
      expect(await enabledProducts()).toEqual([product.address])
      expect((await gw.call('POST', '/api/v1/products/999999/enable', { token: developerToken, query: { project_id: projectId } })).status).toBe(404)
      expect((await gw.call('POST', `/api/v1/products/${product.id}/enable`, { token: developerToken, query: { project_id: 999999 } })).status).toBe(404)
      expect((await gw.call('POST', `/api/v1/products/${product.id}/enable`, { token: developerToken })).status).toBe(400)
    })
  })
})

describe('faucet', () => {
  const amount = () => BigInt(gw.w.config.gateway.faucetAmount)

  it('sends tUSDT once, then refuses for an hour with Retry-After', async () => {
    const wallet = await gw.dev.wallet(20)
    const token = await tokenOf(wallet)
    const before = await tusdtOf(wallet.account.address)
    const first = await gw.call<{ recipient: string; amount: string; transaction: Transaction }>('POST', '/api/v1/me/faucet', { token })
    expect([200, 202], first.text).toContain(first.status)
    expect(first.body.data).toMatchObject({ recipient: lower(wallet.account.address), amount: '500' })
    await until('the faucet transfer on chain', async () => (await tusdtOf(wallet.account.address)) === before + amount())

    const second = await gw.call('POST', '/api/v1/me/faucet', { token })
    expect(second.status).toBe(429)
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(3000)
    expect(second.body.message).toMatch(/once an hour/)

    const status = await gw.call<{ last_granted_at: string; next_allowed_at: string; last_request: { id: number } }>('GET', '/api/v1/me/faucet', { token })
    expect(status.status).toBe(200)
    expect(Date.parse(status.body.data.next_allowed_at) - Date.parse(status.body.data.last_granted_at)).toBe(3_600_000)
    expect(status.body.data.last_request.id).toBe(first.body.data.transaction.id)
    expect(await tusdtOf(wallet.account.address)).toBe(before + amount())
  })

  it('lets exactly one of two concurrent requests of a fresh wallet pass', async () => {
    const wallet = await gw.dev.wallet(21)
    const token = await tokenOf(wallet)
    const answers = await Promise.all([1, 2, 3].map(() => gw.call('POST', '/api/v1/me/faucet', { token })))
    expect(answers.map((a) => a.status).filter((s) => s === 200 || s === 202)).toHaveLength(1)
    expect(answers.map((a) => a.status).filter((s) => s === 429)).toHaveLength(2)
    await until('the faucet transfer on chain', async () => (await tusdtOf(wallet.account.address)) === amount())
    const rows = await gw.database.db.selectFrom('app.tx_outbox').select('id').where('kind', '=', 'faucet').where('requested_by', '=', lower(wallet.account.address)).execute()
    expect(rows).toHaveLength(1)
  })

  it('is not there on a chain that is not a test chain, nor without a session', async () => {
    const token = await tokenOf(await gw.dev.wallet(22))
    expect((await gw.call('POST', '/api/v1/me/faucet')).status).toBe(401)
    const chain = gw.w.chain as { testnet: boolean }
    chain.testnet = false
    try {
      const refused = await gw.call('POST', '/api/v1/me/faucet', { token })
      expect(refused.status).toBe(403)
      expect(refused.body.message).toMatch(/test chains/)
    } finally {
      chain.testnet = true
    }
  })
})

describe('TEE', () => {
  it("serves the server account's public key", async () => {
    const account = privateKeyToAccount(devWalletKey(GATEWAY_KEY_INDEX))
    const answer = await gw.call<{ tee_pubkey: string; public_key: string; address: string }>('GET', '/api/v1/tee/pub-key')
    expect(answer.status).toBe(200)
    expect(answer.body.data).toEqual({ tee_pubkey: account.publicKey.slice(2), public_key: account.publicKey, address: lower(account.address) })
  })

  it('answers 501 without an attestation provider, and relays a configured one (502 when it fails)', async () => {
    const unconfigured = await gw.call('GET', '/api/v1/tee/attest')
    expect(unconfigured.status).toBe(501)
    expect(unconfigured.body.message).toMatch(/no attestation provider/)

    let fail = false
    const provider: Server = createServer((_req, res) => {
      if (fail) {
        res.writeHead(500).end('boom')
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ quote: 'abcd' }))
    })
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve))
    const tee = gw.w.config.tee as { attestationUrl: string | null }
    tee.attestationUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/attest`
    try {
      const attested = await gw.call<{ attestation: unknown; address: string }>('GET', '/api/v1/tee/attest')
      expect(attested.status).toBe(200)
      expect(attested.body.data).toMatchObject({ attestation: { quote: 'abcd' }, address: lower(gw.w.account.address) })
      fail = true
      expect((await gw.call('GET', '/api/v1/tee/attest')).status).toBe(502)
    } finally {
      tee.attestationUrl = null
      await new Promise((resolve) => provider.close(resolve))
    }
  })
})
