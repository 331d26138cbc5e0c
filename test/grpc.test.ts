/**
 * The gRPC read API against the real parts: anvil with the contracts and simulated market
 * activity, the indexer writing a scratch database (PostgreSQL with DATABASE_URL, else PGlite),
 * the read side with no cache, the live feed following the indexer's notifications, and
 * grpc-js clients made from the generated code. Answers are checked against the chain itself
 * (read with viem) where that is cheap; the event stream is checked across live blocks and a
 * reorg against a fresh replay.
 */
import { createRequire } from 'node:module'
import path from 'node:path'
import {
  credentials, loadPackageDefinition, makeClientConstructor, Metadata, status,
  type CallOptions, type ClientReadableStream, type ClientUnaryCall, type ServiceError,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { service as healthService } from 'grpc-health-check'
import { pino } from 'pino'
import { parseEventLogs, parseUnits, type Address, type Hash } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ANVIL_DEPLOYER_KEY, haitheOrchestratorAbi, haitheProductAbi, testUSDTAbi } from '../src/chain/index.js'
import { listenForIndexNotifications, type IndexNotificationListener } from '../src/cache/index.js'
import { loadConfig, type ChainConfig } from '../src/config/index.js'
import { createMarketChain, createMarketSimulator, simulateEvents, type MarketSimulator } from '../src/devnet/index.js'
import {
  AnalyticsServiceClient, classifyError, createGrpcServer, IndexerServiceClient, MarketplaceServiceClient, SERVICE_NAMES,
  type common, type GrpcServer, type indexer,
} from '../src/grpc/index.js'
import { createMetricsRegistry, type Registry } from '../src/obs/index.js'
import { createEventFeed, createReads, InvalidArgumentError, NotFoundError, type EventFeed, type ReadContext, type Reads } from '../src/read/index.js'
import { createTestDatabase, type TestDatabase } from './support/database.js'
import { devChainConfig, startDevChain, waitForSuccess, type DevChain } from './support/devchain.js'
import { runIndexer, type RunningIndexer } from './support/indexing.js'

const weights = loadConfig({ env: {} }).simulator.weights
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
const lower = (address: string) => address.toLowerCase() as Address
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const require = createRequire(import.meta.url)

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

// ---------------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------------

type Unary<Req, Res> = (
  request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall

/** One unary call with a 30 s deadline. */
function rpc<Req, Res>(method: Unary<Req, Res>, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new Metadata(), { deadline: Date.now() + 30_000 }, (error, response) => (error ? reject(error) : resolve(response)))
  })
}

interface EventStream {
  call: ClientReadableStream<indexer.StreamEventsResponse>
  messages: indexer.StreamEventsResponse[]
  /** Settles with the final status once the stream ended (OK or an error). */
  ended: Promise<{ code: status; details: string }>
  /** Resolves with the first message index satisfying `predicate`, polling until the deadline. */
  waitFor(what: string, predicate: (m: indexer.StreamEventsResponse, index: number) => boolean, timeoutMs?: number): Promise<number>
}

function openStream(client: IndexerServiceClient, request: Partial<indexer.StreamEventsRequest>): EventStream {
  const call = client.streamEvents({ kinds: [], addresses: [], ...request })
  const messages: indexer.StreamEventsResponse[] = []
  let final: { code: status; details: string } | undefined
  call.on('data', (m: indexer.StreamEventsResponse) => void messages.push(m))
  const ended = new Promise<{ code: status; details: string }>((resolve) => {
    call.on('status', (s) => resolve((final = { code: s.code, details: s.details })))
    call.on('error', (e: ServiceError) => resolve((final = { code: e.code, details: e.details })))
  })
  return {
    call, messages, ended,
    waitFor: (what, predicate, timeoutMs = 60_000) =>
      until(what, () => {
        const index = messages.findIndex(predicate)
        if (index >= 0) return index
        if (final) throw new Error(`stream ended (${status[final.code]} ${final.details}) before ${what}`)
        return undefined
      }, timeoutMs),
  }
}

type EventMessage = common.Event

/** What a client holds after applying the stream: events, minus those after each rollback's block. */
function applyStream(messages: readonly indexer.StreamEventsResponse[]): EventMessage[] {
  let events: EventMessage[] = []
  for (const m of messages) {
    if (m.event) events.push(m.event)
    if (m.rollback) {
      const to = m.rollback.to_block
      events = events.filter((e) => e.block_number <= to)
    }
  }
  return events
}

/**
 * Within each run between rollbacks, events come in chain order (block, log index); after a
 * rollback, they resume after its block. One log can be two events: a tUSDT transfer into an
 * organization is its deposit and a transfer, in that order.
 */
function expectChainOrder(messages: readonly indexer.StreamEventsResponse[]): void {
  let last: { block: number; logIndex: number; kind: string } | undefined
  for (const m of messages) {
    if (m.rollback) {
      last = { block: m.rollback.to_block, logIndex: Number.MAX_SAFE_INTEGER, kind: '' }
    } else if (m.event) {
      const e = m.event
      if (last) {
        const after = e.block_number > last.block || (e.block_number === last.block && e.log_index > last.logIndex)
        const sameLog = e.block_number === last.block && e.log_index === last.logIndex && last.kind === 'deposit' && e.kind === 'transfer'
        expect(after || sameLog, `event ${e.block_number}:${e.log_index} (${e.kind}) after ${last.block}:${last.logIndex} (${last.kind})`).toBe(true)
      }
      last = { block: e.block_number, logIndex: e.log_index, kind: e.kind }
    }
  }
}

const position = (e: EventMessage) => `${e.block_number}:${e.log_index}:${e.kind}`

// ---------------------------------------------------------------------------------------------
// Chain, index, server
// ---------------------------------------------------------------------------------------------

let dev: DevChain
let database: TestDatabase
let chain: ChainConfig
let running: RunningIndexer
let notifications: IndexNotificationListener
let grpc: GrpcServer
let registry: Registry
let address: string
let market: MarketplaceServiceClient
let analytics: AnalyticsServiceClient
let indexerClient: IndexerServiceClient


/** A fresh simulator on fresh clients (it reloads the market from the chain). */
function simulator(seed: number): Promise<MarketSimulator> {
  const marketChain = createMarketChain({ rpcUrl: dev.anvil.rpcUrl, chain: dev.chain, deployment: dev.deployment, serverKey: ANVIL_DEPLOYER_KEY })
  return createMarketSimulator({ chain: marketChain, seed, weights })
}

/** The server (deployer) sends `amount` tUSDT to `to`; one block. */
async function serverTransfer(to: Address, amount: string): Promise<Hash> {
  const hash = await dev.server.writeContract({ address: dev.deployment.tusdt, abi: testUSDTAbi, functionName: 'transfer', args: [to, parseUnits(amount, 18)] })
  await waitForSuccess(dev.publicClient, hash)
  return hash
}

async function head(): Promise<number> {
  return Number(await dev.publicClient.getBlockNumber({ cacheTime: 0 }))
}

beforeAll(async () => {
  ;[dev, database] = await Promise.all([startDevChain(), createTestDatabase()])
  chain = devChainConfig(dev)
  // A small market (some 25 simulator steps), then bulk settlements with many logs per block.
  const sim = await simulator(7)
  for (let i = 0; i < 25; i++) await sim.step()
  const marketChain = createMarketChain({ rpcUrl: dev.anvil.rpcUrl, chain: dev.chain, deployment: dev.deployment, serverKey: ANVIL_DEPLOYER_KEY })
  await simulateEvents({ chain: marketChain, seed: 8, events: 1_200, linesPerSettlement: 10 })

  running = runIndexer(database.db, database.kind, chain)
  await running.caughtUp()

  const readCtx: ReadContext = { db: database.readDb, chainId: chain.chainId }
  notifications = await listenForIndexNotifications(database, chain.chainId, {})
  registry = createMetricsRegistry()
  grpc = createGrpcServer({ reads: createReads(readCtx), feed: createEventFeed(readCtx, notifications), logger, metrics: registry })
  const { port } = await grpc.listen('127.0.0.1', 0)
  address = `127.0.0.1:${port}`
  market = new MarketplaceServiceClient(address, credentials.createInsecure())
  analytics = new AnalyticsServiceClient(address, credentials.createInsecure())
  indexerClient = new IndexerServiceClient(address, credentials.createInsecure())
}, 300_000)

afterAll(async () => {
  for (const client of [market, analytics, indexerClient]) client?.close()
  await grpc?.close()
  await notifications?.close()
  await running?.stop()
  await database?.cleanup()
  await dev?.stop()
}, 60_000)

// ---------------------------------------------------------------------------------------------
// Reflection and health
// ---------------------------------------------------------------------------------------------

describe('reflection and health', () => {
  it('lists the three services and health by server reflection (v1 and v1alpha)', async () => {
    const reflectionRoot = path.resolve(path.dirname(require.resolve('@grpc/reflection')), '../proto')
    for (const version of ['v1', 'v1alpha'] as const) {
      const definition = loadSync(`grpc/reflection/${version}/reflection.proto`, { includeDirs: [reflectionRoot], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true })
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a dynamically loaded client
      const pkg = loadPackageDefinition(definition) as any
      const client = new pkg.grpc.reflection[version].ServerReflection(address, credentials.createInsecure())
      try {
        const ask = (request: Record<string, string>) =>
          new Promise<Record<string, unknown>>((resolve, reject) => {
            const call = client.ServerReflectionInfo()
            call.on('data', (response: Record<string, unknown>) => resolve(response))
            call.on('error', reject)
            call.write(request)
            call.end()
          })
        const listed = (await ask({ list_services: '' })) as { list_services_response: { service: { name: string }[] } }
        expect(listed.list_services_response.service.map((s) => s.name).sort()).toEqual([...SERVICE_NAMES, 'grpc.health.v1.Health'].sort())
        // The descriptors are there too: a client can build the request types from them.
        const file = (await ask({ file_containing_symbol: 'haithe.v1.IndexerService' })) as { file_descriptor_response?: { file_descriptor_proto: unknown[] } }
        expect(file.file_descriptor_response?.file_descriptor_proto.length).toBeGreaterThan(0)
      } finally {
        client.close()
      }
    }
  })

  it('answers grpc.health.v1 Check: SERVING for the server and each service, NOT_SERVING after setServing(false)', async () => {
    const Health = makeClientConstructor(healthService, 'grpc.health.v1.Health')
    const client = new Health(address, credentials.createInsecure()) as unknown as {
      Check: Unary<{ service: string }, { status: string }>
      close(): void
    }
    try {
      const check = (service: string) => rpc(client.Check.bind(client), { service })
      for (const name of ['', ...SERVICE_NAMES]) expect(await check(name)).toEqual({ status: 'SERVING' })
      grpc.setServing(false)
      for (const name of ['', ...SERVICE_NAMES]) expect(await check(name)).toEqual({ status: 'NOT_SERVING' })
      grpc.setServing(true)
      expect(await check('')).toEqual({ status: 'SERVING' })
      await expect(check('haithe.v1.NoSuchService')).rejects.toMatchObject({ code: status.NOT_FOUND })
    } finally {
      client.close()
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Every unary RPC, checked against the chain where cheap
// ---------------------------------------------------------------------------------------------

describe('unary RPCs', () => {
  const read = <T>(address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[] = []) =>
    dev.publicClient.readContract({ address, abi, functionName, args } as never) as Promise<T>

  /** Every item of a paged list, following next_cursor with small pages. */
  async function all<T>(page: (cursor: string) => Promise<{ items: T[]; next_cursor: string }>): Promise<T[]> {
    const items: T[] = []
    let cursor = ''
    for (let n = 0; n < 1_000; n++) {
      const response = await page(cursor)
      items.push(...response.items)
      if (response.next_cursor === '') return items
      cursor = response.next_cursor
    }
    throw new Error('too many pages')
  }

  it('MarketplaceService: organizations, creators, products, payments, transactions and wallets agree with the chain', async () => {
    const { orchestrator, tusdt, startBlock } = dev.deployment
    const range = { fromBlock: BigInt(startBlock), toBlock: BigInt(await head()) }
    const [orchestratorLogs, tokenLogs] = await Promise.all([orchestrator, tusdt].map((a) => dev.publicClient.getLogs({ address: a, ...range })))
    const paid = parseEventLogs({ abi: haitheOrchestratorAbi, logs: orchestratorLogs!, eventName: 'CreatorPaid' })
    const registered = parseEventLogs({ abi: haitheOrchestratorAbi, logs: orchestratorLogs!, eventName: 'CreatorRegistered' })
    expect(paid.length).toBeGreaterThan(500)

    // GetStats: the counts are the orchestrator's.
    const { stats } = await rpc(market.getStats.bind(market), {})
    const organizationsCount = await read<bigint>(orchestrator, haitheOrchestratorAbi, 'organizationsCount')
    expect(stats).toMatchObject({ organizations: String(organizationsCount), creators: String(registered.length) })

    // ListOrganizations (pages of 3) = every organization; each balance = tUSDT balanceOf.
    const organizations = await all((cursor) => rpc(market.listOrganizations.bind(market), { limit: 3, cursor, owner: '' }))
    expect(organizations).toHaveLength(Number(organizationsCount))
    for (const org of organizations) {
      expect(org.balance, `balance of ${org.address}`).toBe(String(await read<bigint>(tusdt, testUSDTAbi, 'balanceOf', [org.address])))
    }
    const org = organizations.find((o) => o.spent !== '0')!
    expect((await rpc(market.getOrganization.bind(market), { address: org.address.toUpperCase().replace('0X', '0x') })).organization).toEqual(org)

    // ListOrganizationPayments: only that organization's; the kind filter holds.
    const orgCharges = await all((cursor) => rpc(market.listOrganizationPayments.bind(market), { address: org.address, limit: 100, cursor, kind: 'charge' }))
    expect(orgCharges.length).toBeGreaterThan(0)
    expect(orgCharges.every((p) => p.organization === org.address && p.kind === 'charge')).toBe(true)
    const orgPaid = paid.filter((l) => lower(l.args.organization) === org.address)
    expect(orgCharges.length).toBe(orgPaid.length)

    // ListCreators = every registered creator; GetCreator's revenue = the sum of its CreatorPaid amounts.
    const creators = await all((cursor) => rpc(market.listCreators.bind(market), { limit: 4, cursor, sort: 'newest' }))
    expect(creators.map((c) => c.token_id).sort()).toEqual(registered.map((l) => l.args.tokenId.toString()).sort())
    const revenueOf = (tokenId: string) => String(paid.filter((l) => l.args.creatorId.toString() === tokenId).reduce((sum, l) => sum + l.args.amount, 0n))
    const earner = creators.find((c) => c.revenue !== '0')!
    const { creator } = await rpc(market.getCreator.bind(market), { address: earner.address })
    expect(creator).toEqual(earner)
    expect(creator!.revenue).toBe(revenueOf(creator!.token_id))

    // ListCreatorProducts: that creator's; GetProduct: price = pricePerCall().
    const creatorProducts = await all((cursor) => rpc(market.listCreatorProducts.bind(market), { address: earner.address, limit: 2, cursor }))
    expect(creatorProducts.length).toBeGreaterThan(0)
    expect(creatorProducts.every((p) => p.creator === earner.address)).toBe(true)
    const { product } = await rpc(market.getProduct.bind(market), { address: creatorProducts[0]!.address })
    expect(product).toEqual(creatorProducts[0])
    expect(product!.price).toBe(String(await read<bigint>(product!.address as Address, haitheProductAbi, 'pricePerCall')))

    // ListProducts by price, cheapest first, filtered by creator.
    const products = await all((cursor) => rpc(market.listProducts.bind(market), { limit: 5, cursor, category: '', creator: earner.address, q: '', sort: 'price' }))
    expect(products.map((p) => p.address).sort()).toEqual(creatorProducts.map((p) => p.address).sort())
    expect(products.map((p) => BigInt(p.price))).toEqual(products.map((p) => BigInt(p.price)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))

    // ListPayments: charges in a block range = the CreatorPaid logs in it, newest first.
    const last = paid.at(-1)!.blockNumber
    const from = Number(last) - 3
    const charges = await all((cursor) => rpc(market.listPayments.bind(market), {
      limit: 7, cursor, organization: '', creator: '', product: '', kind: 'charge', from_block: from, to_block: Number(last),
    }))
    const inRange = paid.filter((l) => l.blockNumber >= BigInt(from) && l.blockNumber <= last)
    expect(charges.map((p) => `${p.tx_hash}:${p.log_index}`)).toEqual(inRange.map((l) => `${l.transactionHash}:${l.logIndex}`).reverse())
    expect(charges.map((p) => p.amount)).toEqual(inRange.map((l) => String(l.args.amount)).reverse())

    // GetTransaction: the payments of one settlement are its CreatorPaid logs.
    const tx = inRange[0]!.transactionHash
    const { transaction } = await rpc(market.getTransaction.bind(market), { hash: tx })
    expect(transaction!.payments.filter((p) => p.kind === 'charge').map((p) => p.log_index)).toEqual(paid.filter((l) => l.transactionHash === tx).map((l) => l.logIndex))
    expect(transaction!.block_number).toBe(Number(inRange[0]!.blockNumber))

    // GetWallet of an owner: its organizations and tUSDT balance.
    const { wallet } = await rpc(market.getWallet.bind(market), { address: org.owner })
    expect(wallet!.organizations.map((o) => o.address)).toContain(org.address)
    expect(wallet!.balance).toBe(String(await read<bigint>(tusdt, testUSDTAbi, 'balanceOf', [org.owner])))
    const transfersOfOwner = parseEventLogs({ abi: testUSDTAbi, logs: tokenLogs!, eventName: 'Transfer' })
      .filter((l) => lower(l.args.from) === org.owner || lower(l.args.to) === org.owner)
    expect(wallet!.recent_transfers.length).toBe(Math.min(20, transfersOfOwner.length))
  })

  it('AnalyticsService: series add up to the totals; leaderboards rank by revenue', async () => {
    const organizations = (await rpc(market.listOrganizations.bind(market), { limit: 100, cursor: '', owner: '' })).items
    const org = organizations.find((o) => o.spent !== '0')!
    const sum = (points: common.SeriesPoint[], key: 'amount' | 'calls') => String(points.reduce((n, p) => n + BigInt(p[key]), 0n))

    const spend = await rpc(analytics.getOrganizationSpend.bind(analytics), { address: org.address, granularity: 'month', from: '2020-01-01', to: '' })
    expect(sum(spend.series, 'amount')).toBe(org.spent)

    const creators = (await rpc(market.listCreators.bind(market), { limit: 100, cursor: '', sort: '' })).items
    const top = creators[0]!
    const revenue = await rpc(analytics.getCreatorRevenue.bind(analytics), { address: top.address, granularity: 'week', from: '2020-01-06', to: '' })
    expect(sum(revenue.series, 'amount')).toBe(top.revenue)
    expect(sum(revenue.series, 'calls')).toBe(top.calls)

    const products = (await rpc(market.listProducts.bind(market), { limit: 1, cursor: '', category: '', creator: '', q: '', sort: '' })).items
    const { stats } = await rpc(analytics.getProductStats.bind(analytics), { address: products[0]!.address, granularity: '', from: '', to: '' })
    expect(stats!.product).toEqual(products[0])
    expect(stats!.series).toHaveLength(30)

    const creatorBoard = await rpc(analytics.getCreatorLeaderboard.bind(analytics), { metric: '', window: '', limit: 3 })
    expect(creatorBoard.entries.map((e) => [e.rank, e.address, e.revenue])).toEqual(creators.slice(0, 3).map((c, i) => [i + 1, c.address, c.revenue]))
    const productBoard = await rpc(analytics.getProductLeaderboard.bind(analytics), { metric: 'revenue', window: 'all', limit: undefined })
    expect(productBoard.entries[0]).toMatchObject({ rank: 1, address: products[0]!.address, revenue: products[0]!.revenue })
  })

  it('IndexerService.GetStatus: the indexer is realtime at the head', async () => {
    const { status: indexerStatus } = await rpc(indexerClient.getStatus.bind(indexerClient), {})
    expect(indexerStatus).toMatchObject({ chain_id: chain.chainId, role: 'realtime', rpc_healthy: true })
    expect(indexerStatus!.indexed).toBeGreaterThan(chain.contracts.startBlock)
  })

  it('INVALID_ARGUMENT names the parameter; NOT_FOUND for what is not indexed', async () => {
    const invalid = (parameter: string) => ({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(new RegExp(`^${parameter}: `)) })
    await expect(rpc(market.getOrganization.bind(market), { address: '0x1234' })).rejects.toMatchObject(invalid('address'))
    await expect(rpc(market.getWallet.bind(market), { address: '' })).rejects.toMatchObject(invalid('address'))
    await expect(rpc(market.listOrganizations.bind(market), { limit: 1_000, cursor: '', owner: '' })).rejects.toMatchObject(invalid('limit'))
    await expect(rpc(market.listOrganizations.bind(market), { limit: 0, cursor: '', owner: '' })).rejects.toMatchObject(invalid('limit'))
    await expect(rpc(market.listPayments.bind(market), { cursor: 'not-a-cursor', organization: '', creator: '', product: '', kind: '' })).rejects.toMatchObject(invalid('cursor'))
    // A cursor of another list is refused, not misread.
    const page = await rpc(market.listOrganizations.bind(market), { limit: 1, cursor: '', owner: '' })
    expect(page.next_cursor).not.toBe('')
    await expect(rpc(market.listPayments.bind(market), { cursor: page.next_cursor, organization: '', creator: '', product: '', kind: '' })).rejects.toMatchObject(invalid('cursor'))
    await expect(rpc(market.listPayments.bind(market), { cursor: '', organization: '', creator: '', product: '', kind: 'gift' })).rejects.toMatchObject(invalid('kind'))
    await expect(rpc(market.getTransaction.bind(market), { hash: '0xabc' })).rejects.toMatchObject(invalid('hash'))
    await expect(rpc(analytics.getCreatorLeaderboard.bind(analytics), { metric: 'likes', window: '', limit: undefined })).rejects.toMatchObject(invalid('metric'))
    await expect(rpc(analytics.getCreatorRevenue.bind(analytics), { address: dev.deployment.deployer, granularity: 'hour', from: '', to: '' })).rejects.toMatchObject(invalid('granularity'))

    await expect(rpc(market.getOrganization.bind(market), { address: '0x00000000000000000000000000000000000000aa' })).rejects.toMatchObject({ code: status.NOT_FOUND })
    await expect(rpc(market.getTransaction.bind(market), { hash: `0x${'ab'.repeat(32)}` })).rejects.toMatchObject({ code: status.NOT_FOUND })

    const unknownKind = openStream(indexerClient, { kinds: ['charge', 'refund'] })
    expect(await unknownKind.ended).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^kinds\.1: must be one of/) })
    const badAddress = openStream(indexerClient, { addresses: ['0xnope'] })
    expect(await badAddress.ended).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^addresses\.0: /) })
  })

  it('counts handled calls by service, method and code', async () => {
    const metric = await registry.getSingleMetric('grpc_server_handled_total')!.get()
    const count = (method: string, code: string) => metric.values.find((v) => v.labels.grpc_method === method && v.labels.grpc_code === code)?.value ?? 0
    expect(count('GetStats', 'OK')).toBeGreaterThan(0)
    expect(count('ListOrganizations', 'INVALID_ARGUMENT')).toBeGreaterThan(0)
    expect(count('GetOrganization', 'NOT_FOUND')).toBeGreaterThan(0)
    expect(count('StreamEvents', 'INVALID_ARGUMENT')).toBe(2)
  })
})

// ---------------------------------------------------------------------------------------------
// StreamEvents: replay, live, reorg
// ---------------------------------------------------------------------------------------------

describe('StreamEvents', () => {
  let live: EventStream

  afterAll(() => live?.call.cancel())

  it('replays from block 0 in chain order, then caught_up, and the replay matches the chain logs', async () => {
    live = openStream(indexerClient, { from_block: 0 })
    const caughtUp = await live.waitFor('caught_up', (m) => m.caught_up !== undefined)
    const replay = live.messages.slice(0, caughtUp)
    expect(replay.every((m) => m.event !== undefined)).toBe(true)
    expectChainOrder(replay)
    const indexed = Number((await rpc(indexerClient.getStatus.bind(indexerClient), {})).status!.indexed)
    expect(live.messages[caughtUp]!.caught_up!.block).toBeLessThanOrEqual(indexed)

    // Every tUSDT Transfer and every CreatorPaid up to the caught_up block, once each.
    const { tusdt, orchestrator, startBlock } = dev.deployment
    const range = { fromBlock: BigInt(startBlock), toBlock: BigInt(live.messages[caughtUp]!.caught_up!.block) }
    const transfers = parseEventLogs({ abi: testUSDTAbi, logs: await dev.publicClient.getLogs({ address: tusdt, ...range }), eventName: 'Transfer' })
    const paid = parseEventLogs({ abi: haitheOrchestratorAbi, logs: await dev.publicClient.getLogs({ address: orchestrator, ...range }), eventName: 'CreatorPaid' })
    const events = replay.map((m) => m.event!)
    expect(events.filter((e) => e.kind === 'transfer').map((e) => `${e.tx_hash}:${e.log_index}:${e.amount}`))
      .toEqual(transfers.map((l) => `${l.transactionHash}:${l.logIndex}:${l.args.value}`))
    expect(events.filter((e) => e.kind === 'charge').map((e) => `${e.tx_hash}:${e.log_index}:${e.amount}`))
      .toEqual(paid.map((l) => `${l.transactionHash}:${l.logIndex}:${l.args.amount}`))
    expect(new Set(events.map(position)).size).toBe(events.length)
  }, 120_000)

  it('follows live activity as it is mined and indexed', async () => {
    const sim = await simulator(21)
    for (let i = 0; i < 3; i++) await sim.step()
    const recipient = lower('0x000000000000000000000000000000000000bEEF')
    const hash = await serverTransfer(recipient, '12.5')
    const index = await live.waitFor(`the live transfer ${hash}`, (m) => m.event?.tx_hash === hash)
    expect(live.messages[index]!.event).toMatchObject({
      kind: 'transfer', from: lower(dev.deployment.deployer), to: recipient, amount: String(parseUnits('12.5', 18)),
    })
    expect(live.messages.filter((m) => m.caught_up)).toHaveLength(1)
    expectChainOrder(live.messages)
  }, 120_000)

  it('across a reorg: a rollback to the common ancestor, then the new branch; the result equals a fresh replay', async () => {
    await running.caughtUp()
    const ancestor = await head()
    const snapshot = await dev.testClient.snapshot()

    // The abandoned branch: two blocks of transfers, seen by the stream.
    const abandoned = [await serverTransfer(lower('0x00000000000000000000000000000000000a0001'), '1'), await serverTransfer(lower('0x00000000000000000000000000000000000a0002'), '2')]
    await live.waitFor('the abandoned branch', (m) => m.event?.tx_hash === abandoned[1])
    const sentBeforeReorg = live.messages.length

    // The branch that wins: reverted to the ancestor, three blocks of other transfers (longer).
    await dev.testClient.revert({ id: snapshot })
    expect(await head()).toBe(ancestor)
    const winning: Hash[] = []
    for (let i = 1; i <= 3; i++) winning.push(await serverTransfer(lower(`0x00000000000000000000000000000000000b000${i}`), String(i * 3)))
    await running.caughtUp()

    const rollbackIndex = await live.waitFor('a rollback', (m, i) => i >= sentBeforeReorg && m.rollback !== undefined)
    expect(live.messages[rollbackIndex]!.rollback!.to_block).toBe(ancestor)
    await live.waitFor('the last block of the new branch', (m, i) => i > rollbackIndex && m.event?.tx_hash === winning[2])
    expectChainOrder(live.messages)
    // No new-branch event is lost to the rollback: all three come after it.
    const afterRollback = live.messages.slice(rollbackIndex + 1).map((m) => m.event?.tx_hash)
    for (const hash of winning) expect(afterRollback).toContain(hash)

    // What the client holds (events before the rollback's block, then what followed) equals a fresh replay.
    const held = applyStream(live.messages)
    for (const hash of abandoned) expect(held.map((e) => e.tx_hash)).not.toContain(hash)
    const fresh = openStream(indexerClient, { from_block: 0 })
    try {
      // Read slowly at first: the server must wait for the client (flow control), not drop or reorder.
      fresh.call.pause()
      await sleep(300)
      fresh.call.resume()
      await fresh.waitFor('the fresh replay to catch up', (m) => m.caught_up !== undefined)
    } finally {
      fresh.call.cancel()
    }
    const replayed = applyStream(fresh.messages)
    expectChainOrder(fresh.messages)
    await until('the live stream to hold the fresh replay', () => applyStream(live.messages).length >= replayed.length)
    expect(applyStream(live.messages)).toEqual(replayed)
  }, 180_000)

  it('filters by kind and address, in SQL for the replay and in memory live', async () => {
    const organizations = (await rpc(market.listOrganizations.bind(market), { limit: 100, cursor: '', owner: '' })).items
    const org = organizations.find((o) => o.deposited !== '0')!
    const filtered = openStream(indexerClient, { kinds: ['transfer', 'deposit'], addresses: [org.address.toUpperCase().replace('0X', '0x')], from_block: 0 })
    try {
      const caughtUp = await filtered.waitFor('caught_up', (m) => m.caught_up !== undefined)
      const events = filtered.messages.slice(0, caughtUp).map((m) => m.event!)
      expect(events.length).toBeGreaterThan(0)
      for (const e of events) {
        expect(['transfer', 'deposit']).toContain(e.kind)
        expect([e.organization, e.from, e.to]).toContain(org.address)
      }
      // Its transfers are exactly the tUSDT Transfer logs to or from it.
      const { tusdt, startBlock } = dev.deployment
      const logs = parseEventLogs({ abi: testUSDTAbi, logs: await dev.publicClient.getLogs({ address: tusdt, fromBlock: BigInt(startBlock), toBlock: BigInt(filtered.messages[caughtUp]!.caught_up!.block) }), eventName: 'Transfer' })
        .filter((l) => lower(l.args.from) === org.address || lower(l.args.to) === org.address)
      expect(events.filter((e) => e.kind === 'transfer').map((e) => `${e.tx_hash}:${e.log_index}`)).toEqual(logs.map((l) => `${l.transactionHash}:${l.logIndex}`))

      // Live: a deposit into it arrives (transfer and deposit of one log); a transfer elsewhere does not.
      await serverTransfer(lower('0x00000000000000000000000000000000000c0001'), '1')
      const hash = await serverTransfer(org.address as Address, '4')
      await filtered.waitFor('the live deposit', (m) => m.event?.tx_hash === hash && m.event.kind === 'deposit')
      await filtered.waitFor('the live transfer', (m) => m.event?.tx_hash === hash && m.event.kind === 'transfer')
      expect(filtered.messages.slice(caughtUp + 1).every((m) => m.event?.tx_hash === hash)).toBe(true)
    } finally {
      filtered.call.cancel()
    }
  }, 120_000)

  it('a cancelled stream ends on the server', async () => {
    const stream = openStream(indexerClient, {})
    await stream.waitFor('caught_up', (m) => m.caught_up !== undefined)
    stream.call.cancel()
    expect((await stream.ended).code).toBe(status.CANCELLED)
    await until('the server to count the cancelled stream', async () => {
      const metric = await registry.getSingleMetric('grpc_server_handled_total')!.get()
      return metric.values.some((v) => v.labels.grpc_method === 'StreamEvents' && v.labels.grpc_code === 'CANCELLED')
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Failures of the database, as statuses
// ---------------------------------------------------------------------------------------------

describe('errors as statuses', () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code })

  it("classifies the read side's errors, also when wrapped", () => {
    expect(classifyError(new InvalidArgumentError('limit', 'must be at most 100'))).toMatchObject({ code: status.INVALID_ARGUMENT, details: 'limit: must be at most 100' })
    expect(classifyError(new NotFoundError('no organization at 0x… is indexed'))).toMatchObject({ code: status.NOT_FOUND })
    expect(classifyError(pgError('57014', 'canceling statement due to statement timeout'))).toMatchObject({ code: status.DEADLINE_EXCEEDED })
    expect(classifyError(new Error('query failed', { cause: pgError('57014', 'canceling statement due to statement timeout') }))).toMatchObject({ code: status.DEADLINE_EXCEEDED })
    expect(classifyError(pgError('57P01', 'terminating connection due to administrator command'))).toMatchObject({ code: status.UNAVAILABLE })
    expect(classifyError(pgError('08006', 'connection failure'))).toMatchObject({ code: status.UNAVAILABLE })
    expect(classifyError(Object.assign(new AggregateError([pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')]), { code: 'ECONNREFUSED' }))).toMatchObject({ code: status.UNAVAILABLE })
    expect(classifyError(new Error('Connection terminated unexpectedly'))).toMatchObject({ code: status.UNAVAILABLE })
    expect(classifyError(pgError('42P01', 'relation "chain.payments" does not exist'))).toEqual({ code: status.INTERNAL, details: 'internal error', expected: false })
  })

  it('a client sees DEADLINE_EXCEEDED, UNAVAILABLE, or INTERNAL with no detail of ours', async () => {
    const failures = [
      pgError('57014', 'canceling statement due to statement timeout'),
      pgError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:5432'),
      new Error('secret table layout in this message'),
    ]
    let next = 0
    const failing = { stats: () => Promise.reject(failures[next++]!) } as unknown as Reads
    const feed: EventFeed = {
      // eslint-disable-next-line require-yield -- a feed that fails before its first message
      async *subscribe() { throw pgError('57P01', 'terminating connection due to administrator command') },
    }
    const server = createGrpcServer({ reads: failing, feed, logger })
    const { port } = await server.listen('127.0.0.1', 0)
    const client = new MarketplaceServiceClient(`127.0.0.1:${port}`, credentials.createInsecure())
    const streams = new IndexerServiceClient(`127.0.0.1:${port}`, credentials.createInsecure())
    try {
      await expect(rpc(client.getStats.bind(client), {})).rejects.toMatchObject({ code: status.DEADLINE_EXCEEDED })
      await expect(rpc(client.getStats.bind(client), {})).rejects.toMatchObject({ code: status.UNAVAILABLE })
      const internal = await rpc(client.getStats.bind(client), {}).catch((e: ServiceError) => e)
      expect(internal).toMatchObject({ code: status.INTERNAL, details: 'internal error' })
      expect(JSON.stringify(internal)).not.toMatch(/secret/)
      expect(await openStream(streams, { from_block: 0 }).ended).toMatchObject({ code: status.UNAVAILABLE })
    } finally {
      client.close()
      streams.close()
      await server.close()
    }
  })
})

describe('shutdown', () => {
  it('close() ends open streams with OK and stops the server', async () => {
    const streams = [openStream(indexerClient, {}), openStream(indexerClient, { from_block: 0, kinds: ['settlement'] })]
    for (const s of streams) await s.waitFor('caught_up', (m) => m.caught_up !== undefined)
    await grpc.close()
    for (const s of streams) expect((await s.ended).code).toBe(status.OK)
    await expect(rpc(market.getStats.bind(market), {})).rejects.toMatchObject({ code: status.UNAVAILABLE })
  })
})
