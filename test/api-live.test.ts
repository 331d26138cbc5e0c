/**
 * The read API while the chain moves, wired as `haithe api` wires it (startReads: the hot cache
 * invalidated by the indexer's NOTIFY, the live feed, the readiness check on the index): ready
 * only once an indexer has caught up; cached answers dropped by the commits that change them;
 * the WebSocket live feed replaying, following, filtering, refusing bad messages and rolling back
 * across a reorg. Answers are checked against the chain (viem) and against fresh replays.
 */
import pg from 'pg'
import { parseUnits, type Address, type Hash } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ANVIL_DEPLOYER_KEY, haitheOrchestratorAbi, testUSDTAbi } from '../src/chain/index.js'
import { loadConfig, type ChainConfig } from '../src/config/index.js'
import { createMarketChain, createMarketSimulator, simulateEvents, type MarketSimulator } from '../src/devnet/index.js'
import type { CreatorView, EventView, IndexerStatusView, MarketStatsView, OrganizationView, PaymentView, ProductView, WalletView } from '../src/read/index.js'
import { lower, readChainTruth, type ChainTruth } from './support/chain-truth.js'
import { createTestDatabase, type TestDatabase } from './support/database.js'
import { devChainConfig, startDevChain, waitForSuccess, type DevChain } from './support/devchain.js'
import { runIndexer, type RunningIndexer } from './support/indexing.js'
import { applyFeed, openLiveFeed, startReadApi, type LiveFeed, type LiveMessage, type ReadApi } from './support/read-api.js'

const weights = loadConfig({ env: {} }).simulator.weights
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

let dev: DevChain
let database: TestDatabase
let chain: ChainConfig
let running: RunningIndexer | undefined
let api: ReadApi


/** A fresh simulator on fresh clients (it reloads the market from the chain). */
function simulator(seed: number): Promise<MarketSimulator> {
  const marketChain = createMarketChain({ rpcUrl: dev.anvil.rpcUrl, chain: dev.chain, deployment: dev.deployment, serverKey: ANVIL_DEPLOYER_KEY })
  return createMarketSimulator({ chain: marketChain, seed, weights })
}

/** The server (deployer) sends `amount` tUSDT to `to`: one block. */
async function serverTransfer(to: string, amount: string): Promise<Hash> {
  const hash = await dev.server.writeContract({ address: dev.deployment.tusdt, abi: testUSDTAbi, functionName: 'transfer', args: [to as Address, parseUnits(amount, 18)] })
  await waitForSuccess(dev.publicClient, hash)
  return hash
}

/** The server charges `org` for one call of creator `creatorId` (no product): one block. */
async function serverCharge(org: string, creatorId: string, amount: string): Promise<Hash> {
  const hash = await dev.server.writeContract({
    address: dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'collectPaymentForCall',
    args: [org as Address, BigInt(creatorId), dev.deployment.deployer, parseUnits(amount, 18)],
  })
  await waitForSuccess(dev.publicClient, hash)
  return hash
}

/** Polls `check` until it returns something other than undefined/false; throws after the deadline. */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

beforeAll(async () => {
  ;[dev, database] = await Promise.all([startDevChain(), createTestDatabase()])
  chain = devChainConfig(dev)
  const sim = await simulator(201)
  for (let i = 0; i < 60; i++) await sim.step()
  // Bulk settlements, many logs a block: the feed's replay runs over several pages of events.
  const marketChain = createMarketChain({ rpcUrl: dev.anvil.rpcUrl, chain: dev.chain, deployment: dev.deployment, serverKey: ANVIL_DEPLOYER_KEY })
  await simulateEvents({ chain: marketChain, seed: 204, events: 1_500, linesPerSettlement: 10 })
  // The API first, the indexer later: the API must not claim to be ready before the index is.
  api = await startReadApi(database, chain.chainId)
}, 300_000)

afterAll(async () => {
  await api?.close()
  await running?.stop()
  await database?.cleanup()
  await dev?.stop()
}, 60_000)

// ---------------------------------------------------------------------------------------------
// Expected events, from the chain
// ---------------------------------------------------------------------------------------------

function paymentEvent(p: PaymentView): EventView {
  return {
    kind: p.kind, block_number: p.block_number, log_index: p.log_index, tx_hash: p.tx_hash, block_time: p.block_time, amount: p.amount,
    organization: p.organization, creator: p.creator, product: p.product, account: p.account, from: null, to: null, calls: p.calls, batch_id: p.batch_id,
  }
}

/** Every event of the feed according to the chain: payments and transfers in (block, log index) order, a deposit before its transfer. */
function chainEvents(truth: ChainTruth, upTo = truth.head): EventView[] {
  const events: EventView[] = [
    ...truth.payments.map(paymentEvent),
    ...truth.transfers.map((t): EventView => ({
      kind: 'transfer', block_number: t.block_number, log_index: t.log_index, tx_hash: t.tx_hash, block_time: t.block_time, amount: t.amount,
      organization: null, creator: null, product: null, account: null, from: t.from, to: t.to, calls: null, batch_id: null,
    })),
  ]
  return events
    .filter((e) => e.block_number <= upTo)
    .sort((a, b) => a.block_number - b.block_number || a.log_index - b.log_index || Number(a.kind === 'transfer') - Number(b.kind === 'transfer'))
}

/** Between rollbacks, events come in chain order (a deposit and its transfer share a position, deposit first); after a rollback they resume after its block. */
function expectChainOrder(messages: readonly LiveMessage[]): void {
  let last: EventView | { block_number: number; log_index: number; kind: 'rollback' } | undefined
  for (const m of messages) {
    if (m.type === 'rollback') last = { block_number: m.to_block, log_index: Number.MAX_SAFE_INTEGER, kind: 'rollback' }
    if (m.type !== 'event') continue
    const e = m.event
    if (last) {
      const after = e.block_number > last.block_number || (e.block_number === last.block_number && e.log_index > last.log_index)
      const pair = e.block_number === last.block_number && e.log_index === last.log_index && last.kind === 'deposit' && e.kind === 'transfer'
      expect(after || pair, `event ${e.block_number}:${e.log_index} ${e.kind} after ${last.block_number}:${last.log_index} ${last.kind}`).toBe(true)
    }
    last = e
  }
}

const events = (messages: readonly LiveMessage[]) => messages.flatMap((m) => (m.type === 'event' ? [m.event] : []))

async function subscribe(request: Record<string, unknown>): Promise<{ feed: LiveFeed; caughtUp: number }> {
  const feed = await openLiveFeed(api.url)
  feed.send({ type: 'subscribe', ...request })
  const caughtUp = await feed.waitFor('caught_up', (m) => m.type === 'caught_up')
  expect(feed.messages[0]).toEqual({ type: 'subscribed' })
  return { feed, caughtUp }
}

// ---------------------------------------------------------------------------------------------

describe('readiness', () => {
  it('/health at once; /health/ready 503 until an indexer has caught up, then 200; /v1/indexer/status says the same', async () => {
    expect(await api.json('/health')).toEqual({ status: 'ok' })
    const early = await api.get<{ ready: boolean; checks: Record<string, { ready: boolean; detail?: string }> }>('/health/ready')
    expect(early.status).toBe(503)
    expect(early.body.ready).toBe(false)
    expect(early.body.checks.index).toEqual({ ready: false, detail: expect.stringMatching(/no indexer has reported/) })
    expect(await api.json('/v1/indexer/status')).toMatchObject({ chain_id: chain.chainId, role: 'absent', ready: false, indexed: null, head: null })
    // The data routes answer (with an empty index) meanwhile.
    expect(await api.json('/v1/stats')).toMatchObject({ organizations: '0', volume: '0' })

    running = runIndexer(database.db, database.kind, chain)
    await running.caughtUp()
    const head = Number(await dev.publicClient.getBlockNumber({ cacheTime: 0 }))
    const ready = await until('/health/ready 200', async () => {
      const answer = await api.get<{ ready: boolean; checks: Record<string, { ready: boolean; detail?: string }> }>('/health/ready')
      return answer.status === 200 && answer.body
    })
    expect(ready).toEqual({ ready: true, checks: { index: { ready: true, detail: `indexed ${head} of head ${head}` } } })
    const status = await api.json<IndexerStatusView>('/v1/indexer/status')
    expect(status).toMatchObject({ chain_id: chain.chainId, role: 'realtime', ready: true, head, indexed: head, lag: 0, rpc_healthy: true, error: null })
    expect(Date.now() - new Date(status.updated_at!).getTime()).toBeLessThan(60_000)
  }, 120_000)
})

describe('the hot cache', () => {
  it('serves repeated reads from the cache, and a commit of the indexer drops exactly the answers it changed', async () => {
    await running!.caughtUp()
    const truth = await readChainTruth(dev)
    const org = truth.organizations.find((o) => BigInt(o.balance) > parseUnits('10', 18))!
    const creator = truth.creators[0]!
    const product = truth.products[0]!
    const statsBefore = await api.json<MarketStatsView>('/v1/stats')
    const creatorBefore = await api.json<CreatorView>(`/v1/creators/${creator.address}`)
    expect(creatorBefore).toEqual(creator)
    expect(await api.json(`/v1/organizations/${org.address}`)).toEqual(org)
    expect(await api.json(`/v1/products/${product.address}`)).toEqual(product)

    // The same reads again are hits.
    const hits = () => api.metric('read_cache_requests_total', { result: 'hit' })
    const hitsBefore = await hits()
    for (let i = 0; i < 3; i++) {
      expect(await api.json('/v1/stats')).toEqual(statsBefore)
      expect(await api.json(`/v1/creators/${creator.address}`)).toEqual(creatorBefore)
    }
    expect(await hits()).toBe(hitsBefore + 6)
    expect(await api.metric('read_cache_hit_ratio')).toBeGreaterThan(0)

    // New activity: the creator is paid 1.25 tUSDT by the organization (no product).
    const hash = await serverCharge(org.address, creator.token_id, '1.25')
    const paid = parseUnits('1.25', 18)
    const creatorAfter = await until('the creator\'s new revenue', async () => {
      const c = await api.json<CreatorView>(`/v1/creators/${creator.address}`)
      return c.revenue !== creatorBefore.revenue && c
    })
    expect(creatorAfter).toEqual({ ...creatorBefore, revenue: String(BigInt(creatorBefore.revenue) + paid), calls: String(BigInt(creatorBefore.calls) + 1n), claimable: String(BigInt(creatorBefore.claimable) + paid) })
    await running!.caughtUp()
    const after = await readChainTruth(dev)
    expect(await api.json(`/v1/creators/${creator.address}`)).toEqual(after.creators.find((c) => c.address === creator.address))
    expect(await api.json(`/v1/organizations/${org.address}`)).toEqual(after.organizations.find((o) => o.address === org.address))
    expect(await api.json('/v1/stats')).toEqual({ ...statsBefore, volume: String(BigInt(statsBefore.volume) + paid), volume_24h: String(BigInt(statsBefore.volume_24h) + paid) })
    expect((await api.json<{ payments: PaymentView[] }>(`/v1/transactions/${hash}`)).payments.map((p) => p.kind)).toEqual(['charge'])
    // The product was not touched by that commit: its cached answer stays (a hit), and still right.
    const hitsNow = await hits()
    expect(await api.json(`/v1/products/${product.address}`)).toEqual(after.products[0])
    expect(await hits()).toBe(hitsNow + 1)
  }, 120_000)
})

describe('WebSocket /v1/ws', () => {
  let live: LiveFeed
  afterAll(() => live?.close())

  it('replays from block 0 in chain order: the payments of /v1/payments and the chain\'s logs, each once; then caught_up', async () => {
    await running!.caughtUp()
    const subscription = await subscribe({ from_block: 0 })
    live = subscription.feed
    const caught = live.messages[subscription.caughtUp] as { type: 'caught_up'; block: number }
    const replay = live.messages.slice(1, subscription.caughtUp)
    expect(replay.every((m) => m.type === 'event')).toBe(true)
    expectChainOrder(replay)
    const truth = await readChainTruth(dev)
    expect(caught.block).toBe(truth.head)
    expect(events(replay)).toEqual(chainEvents(truth))
    // The same payments as the REST list (which is newest first).
    const rest = await api.all<PaymentView>('/v1/payments', { limit: 100 })
    expect(events(replay).filter((e) => e.kind !== 'transfer')).toEqual([...rest].reverse().map(paymentEvent))
    expect(events(replay).filter((e) => e.kind === 'deposit').length).toBeGreaterThan(0)
    // More than a page of the feed (500 events), with blocks of many events.
    expect(replay.length).toBeGreaterThan(1_000)
    const perBlock = new Map<number, number>()
    for (const e of events(replay)) perBlock.set(e.block_number, (perBlock.get(e.block_number) ?? 0) + 1)
    expect(Math.max(...perBlock.values())).toBeGreaterThan(50)
  }, 120_000)

  it('follows live activity as it is indexed, in order, with a single caught_up', async () => {
    const sim = await simulator(202)
    for (let i = 0; i < 8; i++) await sim.step()
    const hash = await serverTransfer('0x000000000000000000000000000000000000bEEF', '12.5')
    const index = await live.waitFor(`the live transfer ${hash}`, (m) => m.type === 'event' && m.event.tx_hash === hash)
    expect((live.messages[index] as { event: EventView }).event).toMatchObject({
      kind: 'transfer', from: lower(dev.deployment.deployer), to: '0x000000000000000000000000000000000000beef', amount: String(parseUnits('12.5', 18)),
    })
    expect(live.messages.filter((m) => m.type === 'caught_up')).toHaveLength(1)
    expectChainOrder(live.messages)
    await running!.caughtUp()
    expect(applyFeed(live.messages)).toEqual(chainEvents(await readChainTruth(dev)))
  }, 120_000)

  it('filters by kinds and by addresses, in the replay and live', async () => {
    await running!.caughtUp()
    const truth = await readChainTruth(dev)
    const creator = [...truth.creators].sort((a, b) => (BigInt(b.revenue) > BigInt(a.revenue) ? 1 : -1))[0]!
    const other = truth.creators.find((c) => c.address !== creator.address)!
    const org = truth.organizations.find((o) => BigInt(o.balance) > parseUnits('10', 18))!

    // Kinds only.
    const settlements = await subscribe({ kinds: ['settlement', 'withdrawal'], from_block: 0 })
    expect(events(settlements.feed.messages)).toEqual(chainEvents(truth).filter((e) => e.kind === 'settlement' || e.kind === 'withdrawal'))
    await settlements.feed.close()

    // An address (in any letter case) and kinds: the creator's charges and withdrawals.
    const mine = await subscribe({ kinds: ['charge', 'withdrawal'], addresses: [creator.address.toUpperCase().replace('0X', '0x')], from_block: 0 })
    try {
      const expected = chainEvents(truth).filter((e) => (e.kind === 'charge' || e.kind === 'withdrawal') && e.creator === creator.address)
      expect(expected.length).toBeGreaterThan(0)
      expect(events(mine.feed.messages)).toEqual(expected)
      // Live: a charge for another creator does not come; one for this creator does.
      await serverCharge(org.address, other.token_id, '0.5')
      const hash = await serverCharge(org.address, creator.token_id, '0.25')
      await mine.feed.waitFor('the live charge', (m) => m.type === 'event' && m.event.tx_hash === hash)
      expect(events(mine.feed.messages.slice(mine.caughtUp))).toEqual([
        expect.objectContaining({ kind: 'charge', tx_hash: hash, creator: creator.address, organization: org.address, amount: String(parseUnits('0.25', 18)) }),
      ])
    } finally {
      await mine.feed.close()
    }

    // An organization's address: everything naming it (deposits, charges, fees, settlements), and transfers to or from it.
    const orgFeed = await subscribe({ addresses: [org.address], from_block: 0 })
    try {
      await running!.caughtUp()
      const now = await readChainTruth(dev)
      const block = (orgFeed.feed.messages[orgFeed.caughtUp] as { block: number }).block
      expect(events(orgFeed.feed.messages)).toEqual(chainEvents(now, block).filter((e) => e.organization === org.address || e.from === org.address || e.to === org.address))
    } finally {
      await orgFeed.feed.close()
    }
  }, 120_000)

  it('answers a bad message with {"type":"error","code":"invalid_argument"} naming what is wrong, and stays usable', async () => {
    const feed = await openLiveFeed(api.url)
    try {
      const bad: [unknown, RegExp][] = [
        ['not json', /^message: /],
        [{ kinds: ['charge'] }, /^type: /],
        [{ type: 'unsubscribe' }, /^type: /],
        [{ type: 'subscribe', kinds: ['charge', 'refund'] }, /^kinds\.1: /],
        [{ type: 'subscribe', kinds: 'charge' }, /^kinds: /],
        [{ type: 'subscribe', addresses: ['0xnope'] }, /^addresses\.0: /],
        [{ type: 'subscribe', from_block: -1 }, /^from_block: /],
        [{ type: 'subscribe', from_block: 'yesterday' }, /^from_block: /],
        [{ type: 'subscribe', since: 5 }, /^since: /],
        [[1, 2, 3], /^type: /],
        ['null', /^type: /],
      ]
      for (const [message, pattern] of bad) {
        const from = feed.messages.length
        feed.send(message)
        const index = await feed.waitFor(`the error for ${JSON.stringify(message)}`, () => true, { from })
        expect(feed.messages[index], JSON.stringify(message)).toEqual({ type: 'error', code: 'invalid_argument', message: expect.stringMatching(pattern) })
      }
      // A binary frame.
      const from = feed.messages.length
      feed.socket.send(Buffer.from([1, 2, 3]), { binary: true })
      expect(feed.messages[await feed.waitFor('the error for a binary frame', () => true, { from })]).toMatchObject({ type: 'error', code: 'invalid_argument' })
      // Still usable: a good subscription after the bad ones.
      const start = feed.messages.length
      feed.send({ type: 'subscribe', kinds: ['settlement'] })
      await feed.waitFor('caught_up', (m) => m.type === 'caught_up', { from: start })
      expect(feed.messages[start]).toEqual({ type: 'subscribed' })
    } finally {
      await feed.close()
    }
    await expect(openLiveFeed(api.url, '/v1/wsx')).rejects.toThrow(/404/)
  }, 60_000)

  it('a new subscribe on the same socket replaces the previous subscription: nothing of the old one after the new "subscribed"', async () => {
    await running!.caughtUp()
    const truth = await readChainTruth(dev)
    const feed = await openLiveFeed(api.url)
    try {
      feed.send({ type: 'subscribe', from_block: 0 })
      await feed.waitFor('the first replay to start', (m) => m.type === 'event')
      feed.send({ type: 'subscribe', kinds: ['withdrawal'], from_block: 0 })
      const second = await feed.waitFor('the second "subscribed"', (m, i) => i > 0 && m.type === 'subscribed')
      const caughtUp = await feed.waitFor('the second caught_up', (m) => m.type === 'caught_up', { from: second })
      expect(events(feed.messages.slice(second, caughtUp))).toEqual(chainEvents(truth).filter((e) => e.kind === 'withdrawal'))
      expect(feed.messages.filter((m) => m.type === 'subscribed')).toHaveLength(2)
    } finally {
      await feed.close()
    }
  }, 60_000)

  it('across a reorg: a rollback to the common ancestor, then the new branch; the result equals a fresh replay, and REST follows the new branch', async () => {
    await running!.caughtUp()
    const ancestor = Number(await dev.publicClient.getBlockNumber({ cacheTime: 0 }))
    const snapshot = await dev.testClient.snapshot()
    const truthBefore = await readChainTruth(dev)
    const org = truthBefore.organizations.find((o) => BigInt(o.balance) > parseUnits('10', 18))!
    const creator = truthBefore.creators[0]!

    // The abandoned branch: a charge and two transfers, seen by the feed and read (and cached) through REST.
    const lost = '0x00000000000000000000000000000000000a0001'
    const abandoned = [await serverCharge(org.address, creator.token_id, '2'), await serverTransfer(lost, '1'), await serverTransfer(lost, '2')]
    await live.waitFor('the abandoned branch', (m) => m.type === 'event' && m.event.tx_hash === abandoned[2])
    const sentBeforeReorg = live.messages.length
    const lostWallet = await until('the abandoned transfers in the wallet', async () => {
      const w = await api.json<WalletView>(`/v1/wallets/${lost}`)
      return w.recent_transfers.length === 2 && w
    })
    expect(lostWallet.balance).toBe(String(parseUnits('3', 18)))
    expect((await api.json<CreatorView>(`/v1/creators/${creator.address}`)).revenue).toBe(String(BigInt(creator.revenue) + parseUnits('2', 18)))

    // The winning branch: back to the ancestor, then four blocks of other transfers (longer).
    await dev.testClient.revert({ id: snapshot })
    expect(Number(await dev.publicClient.getBlockNumber({ cacheTime: 0 }))).toBe(ancestor)
    const winning: Hash[] = []
    for (let i = 1; i <= 4; i++) winning.push(await serverTransfer(`0x00000000000000000000000000000000000b000${i}`, String(i * 3)))
    await running!.caughtUp()

    const rollback = await live.waitFor('a rollback', (m) => m.type === 'rollback', { from: sentBeforeReorg })
    expect(live.messages[rollback]).toEqual({ type: 'rollback', to_block: ancestor })
    await live.waitFor('the last block of the new branch', (m) => m.type === 'event' && m.event.tx_hash === winning[3], { from: rollback })
    expectChainOrder(live.messages)
    const afterRollback = events(live.messages.slice(rollback + 1)).map((e) => e.tx_hash)
    for (const hash of winning) expect(afterRollback).toContain(hash)

    // What the client holds equals a fresh replay, and the chain.
    const held = applyFeed(live.messages)
    for (const hash of abandoned) expect(held.map((e) => e.tx_hash)).not.toContain(hash)
    const fresh = await subscribe({ from_block: 0 })
    try {
      expectChainOrder(fresh.feed.messages)
      const replayed = events(fresh.feed.messages)
      expect(held).toEqual(replayed)
      expect(replayed).toEqual(chainEvents(await readChainTruth(dev)))
    } finally {
      await fresh.feed.close()
    }

    // REST, cached before the reorg, follows the new branch: the abandoned wallet is empty again, the charge is gone.
    const truthAfter = await readChainTruth(dev)
    await until('the abandoned wallet to be empty again', async () => (await api.json<WalletView>(`/v1/wallets/${lost}`)).recent_transfers.length === 0)
    expect(await api.json(`/v1/wallets/${lost}`)).toEqual({ address: lost, balance: '0', organizations: [], creator: null, recent_transfers: [] })
    expect(await api.json(`/v1/creators/${creator.address}`)).toEqual(truthAfter.creators.find((c) => c.address === creator.address))
    expect(await api.json(`/v1/organizations/${org.address}`)).toEqual(truthAfter.organizations.find((o) => o.address === org.address) satisfies OrganizationView | undefined)
    expect(await api.all('/v1/payments', { limit: 100 })).toEqual([...truthAfter.payments].reverse())
    expect(await api.all('/v1/products', { sort: 'newest', limit: 100 })).toEqual([...truthAfter.products].reverse() satisfies ProductView[])
    const notFound = await api.get(`/v1/transactions/${abandoned[0]}`)
    expect(notFound.status).toBe(404)
  }, 180_000)
})

describe('when the LISTEN connection drops (PostgreSQL)', () => {
  it.runIf(process.env.DATABASE_URL)('what the indexer commits meanwhile is not lost: REST answers it, and the live feed delivers it once LISTEN is back', async () => {
    await running!.caughtUp()
    const truth = await readChainTruth(dev)
    const org = truth.organizations.find((o) => BigInt(o.balance) > parseUnits('10', 18))!
    const creator = truth.creators[1]!
    const { feed } = await subscribe({ kinds: ['charge'] })
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
    await admin.connect()
    const name = new URL(database.url!).pathname.slice(1)
    const listeners = async () => (await admin.query<{ pid: number }>(`select pid from pg_stat_activity where datname = $1 and application_name = 'haithe-listen'`, [name])).rows.map((r) => r.pid)
    try {
      expect(await api.json(`/v1/creators/${creator.address}`)).toEqual(creator)
      const before = await listeners()
      expect(before.length).toBeGreaterThan(0)
      // No new session may reach the database; the LISTEN session is ended. The indexer and the API keep their pooled sessions.
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`)
      let hash: Hash
      try {
        await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name = $2', [name, 'haithe-listen'])
        hash = await serverCharge(org.address, creator.token_id, '0.5')
        await running!.caughtUp()
        // REST: the charge is there although no notification could arrive.
        await until('the new revenue through REST', async () => (await api.json<CreatorView>(`/v1/creators/${creator.address}`)).revenue === String(BigInt(creator.revenue) + parseUnits('0.5', 18)), 20_000)
      } finally {
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`)
      }
      // LISTEN is back (a new session), and the feed sends the charge it was not told about.
      await until('a new LISTEN session', async () => {
        const now = await listeners()
        return now.length > 0 && now.every((pid) => !before.includes(pid))
      })
      await feed.waitFor('the charge committed while LISTEN was down', (m) => m.type === 'event' && m.event.tx_hash === hash, { timeoutMs: 20_000 })
      // And the cache caches again.
      const hits = await api.metric('read_cache_requests_total', { result: 'hit' })
      await api.json(`/v1/creators/${creator.address}`)
      await api.json(`/v1/creators/${creator.address}`)
      expect(await api.metric('read_cache_requests_total', { result: 'hit' })).toBeGreaterThan(hits)
    } finally {
      await admin.end()
      await feed.close()
    }
  }, 60_000)
})

describe('paging while the chain moves', () => {
  it('a walk through /v1/payments (newest first) and /v1/organizations (oldest first) started before new blocks has no gap and no duplicate', async () => {
    await running!.caughtUp()
    const before = await readChainTruth(dev)
    const firstPayments = await api.json<{ items: PaymentView[]; next_cursor: string }>('/v1/payments', { limit: 10 })
    const firstOrgs = await api.json<{ items: OrganizationView[]; next_cursor: string }>('/v1/organizations', { limit: 2 })
    const sim = await simulator(203)
    await sim.act('createOrganization')
    for (let i = 0; i < 5; i++) await sim.step()
    await running!.caughtUp()
    const after = await readChainTruth(dev)
    await until('the new organization to be listed', async () => (await api.json<{ items: unknown[] }>('/v1/organizations', { limit: 100 })).items.length === after.organizations.length)
    const rest = async <T>(path: string, limit: number, cursor: string) => {
      const items: T[] = []
      for (let next: string | null = cursor; next !== null;) {
        const page: { items: T[]; next_cursor: string | null } = await api.json(path, { limit, cursor: next })
        items.push(...page.items)
        next = page.next_cursor
      }
      return items
    }
    // Newest first: the walk is the list as it was when it started.
    expect([...firstPayments.items, ...await rest<PaymentView>('/v1/payments', 10, firstPayments.next_cursor)]).toEqual([...before.payments].reverse())
    // Oldest first: the walk reaches the organizations created meanwhile.
    const walked = [...firstOrgs.items, ...await rest<OrganizationView>('/v1/organizations', 2, firstOrgs.next_cursor)]
    expect(walked.map((o) => o.address)).toEqual(after.organizations.map((o) => o.address))
    expect(after.organizations.length).toBeGreaterThan(before.organizations.length)
  }, 120_000)
})

describe('an indexer that stops', () => {
  it('makes the replica not ready: /health/ready 503, /v1/indexer/status stopped; the data stays readable', async () => {
    await running!.stop()
    const answer = await until('/health/ready 503', async () => {
      const a = await api.get<{ ready: boolean; checks: Record<string, { ready: boolean; detail?: string }> }>('/health/ready')
      return a.status === 503 && a
    })
    expect(answer.body.checks.index).toEqual({ ready: false, detail: expect.stringMatching(/stopped/) })
    expect(await api.json('/v1/indexer/status')).toMatchObject({ role: 'stopped', ready: false })
    expect((await api.get('/v1/stats')).status).toBe(200)
  }, 60_000)
})
