/**
 * The REST read API as a demanding client sees it, over a market indexed from a local chain:
 * anvil with the real contracts, a few hundred seeded simulator actions spread over some twelve
 * days of chain time (creators, products of every category, organizations, deposits,
 * settlements, withdrawals, enable/disable, repricing, ownership transfers) and a couple of
 * direct charges with no product. The indexer runs to the head into a scratch database
 * (PostgreSQL with DATABASE_URL, else PGlite); the API answers on 127.0.0.1:0 from it, through
 * the hot cache, with its time windows on a clock pinned just after the last block.
 *
 * Every answer is checked against the chain itself (logs read with viem and decoded with the
 * ABIs, balanceOf, owner(), funds(), pricePerCall(), getEnabledProducts()), never against SQL.
 */
import { parseUnits, toEventSelector, type AbiEvent, type Address, type Hash } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { routes } from '../src/api/routes.js'
import { ANVIL_DEPLOYER_KEY, haitheOrchestratorAbi, testUSDTAbi } from '../src/chain/index.js'
import { loadConfig, type ChainConfig } from '../src/config/index.js'
import { createMarketChain, createMarketSimulator, createRandom, productCategories } from '../src/devnet/index.js'
import type {
  CreatorView, IndexerStatusView, LeaderboardEntry, MarketStatsView, OrganizationView, PaymentView, ProductStatsView, ProductView,
  SeriesPoint, TransactionView, WalletView,
} from '../src/read/index.js'
import { lower, readChainTruth, type ChainTruth } from './support/chain-truth.js'
import { createTestDatabase, type TestDatabase } from './support/database.js'
import { devChainConfig, startDevChain, waitForSuccess, type DevChain } from './support/devchain.js'
import { runIndexer, type RunningIndexer } from './support/indexing.js'
import { validateJson } from './support/json-schema.js'
import { startReadApi, type ReadApi } from './support/read-api.js'

const SEED = 101
const STEPS = 220
const weights = loadConfig({ env: {} }).simulator.weights
const HOUR = 3_600_000
const DAY = 86_400_000

type Page<T> = { items: T[]; next_cursor: string | null }
type Granularity = 'day' | 'week' | 'month'

let dev: DevChain
let database: TestDatabase
let chain: ChainConfig
let running: RunningIndexer
let truth: ChainTruth
let api: ReadApi
/** The read API's clock: ten minutes after the last block. */
let now: Date


beforeAll(async () => {
  ;[dev, database] = await Promise.all([startDevChain(), createTestDatabase()])
  chain = devChainConfig(dev)
  const marketChain = createMarketChain({ rpcUrl: dev.anvil.rpcUrl, chain: dev.chain, deployment: dev.deployment, serverKey: ANVIL_DEPLOYER_KEY })
  const sim = await createMarketSimulator({ chain: marketChain, seed: SEED, weights })
  // Between 30 and 150 minutes of chain time after each action, 10 to 40 in the last 40: the
  // market spans about eleven days, busiest in the last one, so the 24h, 7d and 30d windows and
  // the day, week and month buckets all differ.
  const random = createRandom(SEED)
  for (let i = 0; i < STEPS; i++) {
    await sim.step()
    await dev.testClient.increaseTime({ seconds: (i < STEPS - 40 ? random.int(30, 150) : random.int(10, 40)) * 60 })
  }
  // Charges outside a settlement: a creator paid for a call with no product, and a model fee.
  const { orchestrator, tusdt, deployer } = dev.deployment
  const org = sim.state.organizations[0]!.address
  const creatorId = sim.state.creators[0]!.tokenId
  for (const request of [
    { address: tusdt, abi: testUSDTAbi, functionName: 'transfer', args: [org, parseUnits('25', 18)] },
    { address: orchestrator, abi: haitheOrchestratorAbi, functionName: 'collectPaymentForCall', args: [org, creatorId, deployer, parseUnits('0.75', 18)] },
    { address: orchestrator, abi: haitheOrchestratorAbi, functionName: 'collectPaymentForLLMCall', args: [org, deployer, parseUnits('0.05', 18)] },
  ] as const) {
    await waitForSuccess(dev.publicClient, await dev.server.writeContract(request as never))
  }

  running = runIndexer(database.db, database.kind, chain)
  await running.caughtUp()
  truth = await readChainTruth(dev)
  now = new Date(truth.headTime.getTime() + 10 * 60_000)
  api = await startReadApi(database, chain.chainId, { clock: () => now, cache: true })
}, 300_000)

afterAll(async () => {
  await api?.close()
  await running?.stop()
  await database?.cleanup()
  await dev?.stop()
}, 60_000)

// ---------------------------------------------------------------------------------------------
// Arithmetic on the chain's facts
// ---------------------------------------------------------------------------------------------

const total = (values: Iterable<string | bigint>) => {
  let n = 0n
  for (const v of values) n += BigInt(v)
  return n
}
const byBigDesc = (a: string, b: string) => (BigInt(a) > BigInt(b) ? -1 : BigInt(a) < BigInt(b) ? 1 : 0)
const newestFirst = <T>(items: readonly T[]) => [...items].reverse()
const charges = () => truth.payments.filter((p) => p.kind === 'charge')
/** The address with its hex digits in upper case: the API must take any letter case. */
const upperCased = (address: string) => address.slice(0, 2) + address.slice(2).toUpperCase()

const utcDay = (date: Date) => new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()))
const ymd = (date: Date) => date.toISOString().slice(0, 10)
function bucketOf(date: Date, granularity: Granularity): Date {
  const day = utcDay(date)
  if (granularity === 'day') return day
  if (granularity === 'week') return new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * DAY) // weeks start on Monday
  return new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), 1))
}
function nextBucket(start: Date, granularity: Granularity): Date {
  if (granularity === 'day') return new Date(start.getTime() + DAY)
  if (granularity === 'week') return new Date(start.getTime() + 7 * DAY)
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1))
}

/**
 * A series as documented: buckets from `from` to `to` (default today), each the sum of the events
 * of the days from..to in it; without `from`, the 30 days, 26 weeks or 12 months (whole buckets)
 * ending with `to`.
 */
function expectedSeries(events: readonly { time: Date; amount: bigint; calls: bigint }[], granularity: Granularity, range: { from?: Date; to?: Date } = {}): SeriesPoint[] {
  const to = utcDay(range.to ?? now)
  const from = range.from ? utcDay(range.from)
    : granularity === 'day' ? new Date(to.getTime() - 29 * DAY)
      : granularity === 'week' ? new Date(to.getTime() - 25 * 7 * DAY)
        : new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth() - 11, 1))
  const first = range.from ? from : bucketOf(from, granularity)
  const points = new Map<string, { amount: bigint; calls: bigint }>()
  for (let b = bucketOf(from, granularity); b <= to; b = nextBucket(b, granularity)) points.set(ymd(b), { amount: 0n, calls: 0n })
  for (const event of events) {
    const day = utcDay(event.time)
    if (day < first || day > to) continue
    const point = points.get(ymd(bucketOf(day, granularity)))!
    point.amount += event.amount
    point.calls += event.calls
  }
  return [...points].map(([period, p]) => ({ period, amount: String(p.amount), calls: String(p.calls) }))
}

/** A creator's or product's charges as series events. */
const chargeEvents = (match: (p: PaymentView) => boolean) =>
  charges().filter(match).map((p) => ({ time: new Date(p.block_time), amount: BigInt(p.amount), calls: BigInt(p.calls!) }))

/** A leaderboard worked out from the chain's CreatorPaid logs (windows) or the entities' totals (all). */
function expectedLeaderboard(entity: 'creators' | 'products', metric: 'revenue' | 'calls', window: '24h' | '7d' | '30d' | 'all', limit: number): LeaderboardEntry[] {
  type Row = { address: string; label: string; revenue: string; calls: string; tie: string | bigint }
  let rows: Row[]
  if (window === 'all') {
    // Only those charged at least once, as in the windows.
    rows = (entity === 'creators'
      ? truth.creators.map((c) => ({ address: c.address, label: c.token_id, revenue: c.revenue, calls: c.calls, tie: BigInt(c.token_id) }))
      : truth.products.map((p) => ({ address: p.address, label: p.name, revenue: p.revenue, calls: p.calls, tie: p.address }))).filter((r) => BigInt(r.calls) > 0n)
  } else {
    // 24h: the current UTC hour and the 23 before it; 7d / 30d: today (UTC) and the 6 or 29 days before.
    const start = window === '24h' ? Math.floor(now.getTime() / HOUR) * HOUR - 23 * HOUR : utcDay(now).getTime() - (window === '7d' ? 6 : 29) * DAY
    const sums = new Map<string, { revenue: bigint; calls: bigint }>()
    for (const p of charges()) {
      if (new Date(p.block_time).getTime() < start) continue
      const key = entity === 'creators' ? p.creator! : p.product
      if (key === null) continue
      const s = sums.get(key) ?? { revenue: 0n, calls: 0n }
      sums.set(key, { revenue: s.revenue + BigInt(p.amount), calls: s.calls + BigInt(p.calls!) })
    }
    rows = [...sums].map(([address, s]) => {
      const creator = truth.creators.find((c) => c.address === address)
      const product = truth.products.find((p) => p.address === address)
      return entity === 'creators'
        ? { address, label: creator!.token_id, revenue: String(s.revenue), calls: String(s.calls), tie: BigInt(creator!.token_id) }
        : { address, label: product!.name, revenue: String(s.revenue), calls: String(s.calls), tie: address }
    })
  }
  rows.sort((a, b) => byBigDesc(a[metric], b[metric]) || (a.tie < b.tie ? -1 : a.tie > b.tie ? 1 : 0))
  return rows.slice(0, limit).map((r, i) => ({ rank: i + 1, address: r.address, label: r.label, revenue: r.revenue, calls: r.calls }))
}

// ---------------------------------------------------------------------------------------------

describe('the dataset', () => {
  it('is a market with something of everything, over more than a week of chain time', () => {
    expect(truth.organizations.length).toBeGreaterThanOrEqual(5)
    expect(truth.creators.length).toBeGreaterThanOrEqual(5)
    expect(truth.products.length).toBeGreaterThanOrEqual(productCategories.length)
    for (const kind of ['charge', 'model_fee', 'settlement', 'withdrawal', 'deposit'] as const) {
      expect(truth.payments.filter((p) => p.kind === kind).length, kind).toBeGreaterThan(0)
    }
    expect(truth.ownersFromLogs.size).toBe(truth.organizations.length)
    expect(truth.counts.priceChanges).toBeGreaterThan(0)
    expect(truth.counts.ownershipTransfers).toBeGreaterThan(0)
    expect(truth.counts.productsDisabled).toBeGreaterThan(0)
    const times = truth.payments.map((p) => new Date(p.block_time).getTime())
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(8 * DAY)
    const lastDay = truth.payments.filter((p) => new Date(p.block_time).getTime() >= now.getTime() - DAY)
    expect(lastDay.filter((p) => p.kind === 'settlement').length).toBeGreaterThan(3)
  })
})

describe('GET /v1/stats', () => {
  it('counts the creation logs and sums CreatorPaid and ModelFeePaid, all time and over the last 24 hours (hour-aligned)', async () => {
    const fees = truth.payments.filter((p) => p.kind === 'model_fee')
    const paid = [...charges(), ...fees]
    // Like the leaderboards: the current UTC hour and the 23 before it.
    const start = Math.floor(now.getTime() / HOUR) * HOUR - 23 * HOUR
    const recent = (p: PaymentView) => new Date(p.block_time).getTime() >= start
    const expected: MarketStatsView = {
      organizations: String(truth.organizations.length),
      creators: String(truth.creators.length),
      products: String(truth.products.length),
      calls: String(total(fees.map((p) => p.calls!))),
      volume: String(total(paid.map((p) => p.amount))),
      volume_24h: String(total(paid.filter(recent).map((p) => p.amount))),
      calls_24h: String(total(fees.filter(recent).map((p) => p.calls!))),
    }
    expect(BigInt(expected.volume_24h)).toBeGreaterThan(0n)
    expect(BigInt(expected.volume_24h)).toBeLessThan(BigInt(expected.volume))
    const answer = await api.get<MarketStatsView>('/v1/stats')
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/)
    expect(answer.body).toEqual(expected)
    // Served again from the cache: the same.
    expect(await api.json('/v1/stats')).toEqual(expected)
  })
})

describe('organizations', () => {
  it('lists every organization once, in creation order, across pages; each one equals the chain', async () => {
    const paged = await api.all<OrganizationView>('/v1/organizations', { limit: 3 })
    expect(paged).toEqual(truth.organizations)
    expect(await api.json('/v1/organizations', { limit: 100 })).toEqual({ items: truth.organizations, next_cursor: null })
    const first = await api.json<Page<OrganizationView>>('/v1/organizations')
    expect(first.items).toEqual(truth.organizations.slice(0, 20))
    expect(first.next_cursor === null).toBe(truth.organizations.length <= 20)
    // One owner's organizations: the owner of each from OrganizationCreated and OwnershipTransferred.
    for (const owner of new Set(truth.organizations.map((o) => o.owner))) {
      expect(await api.all('/v1/organizations', { owner: upperCased(owner), limit: 2 })).toEqual(truth.organizations.filter((o) => o.owner === owner))
    }
    expect(await api.json('/v1/organizations', { owner: dev.deployment.deployer })).toEqual({ items: [], next_cursor: null })
  })

  it('GET /v1/organizations/{address}: balance = balanceOf, spent = its OrganizationExpenditure, in any letter case', async () => {
    for (const org of truth.organizations) {
      expect(await api.json(`/v1/organizations/${upperCased(org.address)}`)).toEqual(org)
      expect(org.spent).toBe(String(total(truth.expenditures.filter((e) => e.organization === org.address).map((e) => e.amount))))
    }
    expect(truth.organizations.some((o) => o.spent !== '0' && o.balance !== '0')).toBe(true)
  })

  it('GET /v1/organizations/{address}/payments: its payments newest first, across pages, by kind', async () => {
    const busiest = [...truth.organizations].sort((a, b) => byBigDesc(a.spent, b.spent))[0]!
    const mine = truth.payments.filter((p) => p.organization === busiest.address)
    expect(mine.length).toBeGreaterThan(10)
    expect(await api.all(`/v1/organizations/${busiest.address}/payments`, { limit: 7 })).toEqual(newestFirst(mine))
    for (const kind of ['charge', 'model_fee', 'settlement', 'deposit', 'withdrawal'] as const) {
      expect(await api.all(`/v1/organizations/${busiest.address}/payments`, { kind, limit: 9 }), kind).toEqual(newestFirst(mine.filter((p) => p.kind === kind)))
    }
  })

  it('GET /v1/organizations/{address}/spend: per day, week and month, adds up to what it spent', async () => {
    for (const org of truth.organizations) {
      const events = [
        ...truth.expenditures.filter((e) => e.organization === org.address).map((e) => ({ time: new Date(e.block_time), amount: e.amount, calls: 0n })),
        ...truth.payments.filter((p) => p.kind === 'model_fee' && p.organization === org.address).map((p) => ({ time: new Date(p.block_time), amount: 0n, calls: BigInt(p.calls!) })),
      ]
      for (const granularity of ['day', 'week', 'month'] as const) {
        const series = await api.json<SeriesPoint[]>(`/v1/organizations/${org.address}/spend`, { granularity })
        expect(series, `${org.name} by ${granularity}`).toEqual(expectedSeries(events, granularity))
        expect(String(total(series.map((p) => p.amount)))).toBe(org.spent)
        expect(String(total(series.map((p) => p.calls)))).toBe(org.calls)
      }
      expect(await api.json(`/v1/organizations/${org.address}/spend`)).toEqual(await api.json(`/v1/organizations/${org.address}/spend`, { granularity: 'day' }))
    }
  })
})

describe('creators', () => {
  const sorted = (sort: 'revenue' | 'calls' | 'newest') =>
    [...truth.creators].sort((a, b) =>
      sort === 'newest' ? Number(BigInt(b.token_id) - BigInt(a.token_id)) : byBigDesc(a[sort], b[sort]) || Number(BigInt(a.token_id) - BigInt(b.token_id)))

  it('lists every creator by revenue (default), calls or newest, across pages; each one equals the chain', async () => {
    expect(await api.all('/v1/creators', { limit: 3 })).toEqual(sorted('revenue'))
    for (const sort of ['revenue', 'calls', 'newest'] as const) {
      expect(await api.all('/v1/creators', { sort, limit: 2 }), sort).toEqual(sorted(sort))
      expect(await api.json('/v1/creators', { sort, limit: 100 })).toEqual({ items: sorted(sort), next_cursor: null })
    }
    expect(truth.creators.some((c) => c.withdrawn !== '0' && c.claimable !== '0')).toBe(true)
  })

  it('GET /v1/creators/{address}: revenue = its CreatorPaid, withdrawn = its FundsWithdrawn, claimable = funds()', async () => {
    for (const creator of truth.creators) {
      expect(await api.json(`/v1/creators/${upperCased(creator.address)}`)).toEqual(creator)
      const mine = truth.payments.filter((p) => p.creator_id === creator.token_id)
      expect(creator.revenue).toBe(String(total(mine.filter((p) => p.kind === 'charge').map((p) => p.amount))))
      expect(creator.withdrawn).toBe(String(total(mine.filter((p) => p.kind === 'withdrawal').map((p) => p.amount))))
    }
  })

  it('GET /v1/creators/{address}/products: its products, newest first, across pages', async () => {
    for (const creator of truth.creators) {
      const mine = truth.products.filter((p) => p.creator === creator.address).sort((a, b) => b.index - a.index)
      expect(await api.all(`/v1/creators/${creator.address}/products`, { limit: 2 })).toEqual(mine)
    }
  })

  it('GET /v1/creators/{address}/revenue: per day, week and month, adds up to its revenue and calls', async () => {
    for (const creator of truth.creators) {
      const events = chargeEvents((p) => p.creator === creator.address)
      for (const granularity of ['day', 'week', 'month'] as const) {
        const series = await api.json<SeriesPoint[]>(`/v1/creators/${creator.address}/revenue`, { granularity })
        expect(series, `creator #${creator.token_id} by ${granularity}`).toEqual(expectedSeries(events, granularity))
        expect(String(total(series.map((p) => p.amount)))).toBe(creator.revenue)
        expect(String(total(series.map((p) => p.calls)))).toBe(creator.calls)
      }
    }
  })

  it('a series over an explicit from..to holds exactly the days from..to, whatever the granularity', async () => {
    const creator = [...truth.creators].sort((a, b) => byBigDesc(a.revenue, b.revenue))[0]!
    const events = chargeEvents((p) => p.creator === creator.address)
    const days = [...new Set(events.map((e) => ymd(e.time)))].sort()
    // A `from` that is neither a Monday nor the 1st, with earnings the day before it (in the same week or month).
    const from = days.map((d) => new Date(`${d}T00:00:00Z`)).find((d) =>
      d.getUTCDay() !== 1 && d.getUTCDate() !== 1 && days.includes(ymd(new Date(d.getTime() - DAY))) && d.getTime() > new Date(days[0]!).getTime())!
    expect(from).toBeDefined()
    const to = new Date(from.getTime() + 4 * DAY)
    const inRange = events.filter((e) => utcDay(e.time) >= from && utcDay(e.time) <= to)
    for (const granularity of ['day', 'week', 'month'] as const) {
      const series = await api.json<SeriesPoint[]>(`/v1/creators/${creator.address}/revenue`, { granularity, from: ymd(from), to: ymd(to) })
      expect(String(total(series.map((p) => p.amount))), `${granularity}: the sum over ${ymd(from)}..${ymd(to)}`).toBe(String(total(inRange.map((e) => e.amount))))
      expect(series, granularity).toEqual(expectedSeries(events, granularity, { from, to }))
    }
    // ISO timestamps are accepted as well as days.
    expect(await api.json(`/v1/creators/${creator.address}/revenue`, { from: `${ymd(from)}T12:00:00Z`, to: `${ymd(to)}T01:00:00.000+00:00` }))
      .toEqual(await api.json(`/v1/creators/${creator.address}/revenue`, { from: ymd(from), to: ymd(to) }))
  })
})

describe('answers that depend on the clock', () => {
  it('follow it, cached or not: a day later, the default series window ends on the new day and the 24 h figures move on', async () => {
    const creator = [...truth.creators].sort((a, b) => byBigDesc(a.revenue, b.revenue))[0]!
    const org = [...truth.organizations].sort((a, b) => byBigDesc(a.spent, b.spent))[0]!
    const product = [...truth.products].sort((a, b) => byBigDesc(a.revenue, b.revenue))[0]!
    const creatorEvents = chargeEvents((p) => p.creator === creator.address)
    const orgEvents = truth.expenditures.filter((e) => e.organization === org.address).map((e) => ({ time: new Date(e.block_time), amount: e.amount, calls: 0n }))
    const orgCalls = truth.payments.filter((p) => p.kind === 'model_fee' && p.organization === org.address).map((p) => ({ time: new Date(p.block_time), amount: 0n, calls: BigInt(p.calls!) }))
    const read = () => Promise.all([
      api.json(`/v1/creators/${creator.address}/revenue`),
      api.json(`/v1/organizations/${org.address}/spend`),
      api.json<ProductStatsView>(`/v1/products/${product.address}/stats`),
      api.json<MarketStatsView>('/v1/stats'),
      api.json('/v1/leaderboards/creators', { window: '24h' }),
    ])
    const expected = () => [expectedSeries(creatorEvents, 'day'), expectedSeries([...orgEvents, ...orgCalls], 'day'), expectedSeries(chargeEvents((p) => p.product === product.address), 'day')]
    const [revenue, spend, stats] = await read()
    expect([revenue, spend, stats.series]).toEqual(expected())
    const saved = now
    try {
      now = new Date(saved.getTime() + DAY)
      const [laterRevenue, laterSpend, laterStats, laterMarket, laterBoard] = await read()
      expect(laterMarket).toMatchObject({ volume_24h: '0', calls_24h: '0' })
      expect(laterBoard).toEqual([])
      expect(laterStats).toMatchObject({ revenue_24h: '0', calls_24h: '0', series: expected()[2] })
      expect(laterRevenue, 'creator revenue series, a day later').toEqual(expected()[0])
      expect(laterSpend, 'organization spend series, a day later').toEqual(expected()[1])
    } finally {
      now = saved
    }
  })

  it('a timestamp without a zone is UTC, whatever the time zone the server runs in', async () => {
    const creator = [...truth.creators].sort((a, b) => byBigDesc(a.revenue, b.revenue))[0]!
    const url = `/v1/creators/${creator.address}/revenue`
    const day = ymd(new Date(now.getTime() - 3 * DAY))
    const utc = await api.json(url, { from: day, to: ymd(now) })
    const saved = process.env.TZ
    process.env.TZ = 'Asia/Kolkata'
    try {
      expect(await api.json(url, { from: `${day}T00:00`, to: `${ymd(now)}T00:00` })).toEqual(utc)
      expect(await api.json(url, { from: `${day}T00:00:00Z`, to: `${ymd(now)}T23:59:59+00:00` })).toEqual(utc)
    } finally {
      if (saved === undefined) delete process.env.TZ
      else process.env.TZ = saved
    }
  })
})

describe('products', () => {
  type Sort = 'revenue' | 'calls' | 'price' | 'newest'
  const order: Record<Sort, (a: ProductView, b: ProductView) => number> = {
    revenue: (a, b) => byBigDesc(a.revenue, b.revenue) || a.address.localeCompare(b.address),
    calls: (a, b) => byBigDesc(a.calls, b.calls) || a.address.localeCompare(b.address),
    price: (a, b) => -byBigDesc(a.price, b.price) || a.address.localeCompare(b.address),
    newest: (a, b) => b.index - a.index,
  }

  it('every filter (category, creator, q) with every sort: complete, in order, the same in pages of 4 as in one page', async () => {
    const prolific = [...truth.creators].sort((a, b) =>
      truth.products.filter((p) => p.creator === b.address).length - truth.products.filter((p) => p.creator === a.address).length)[0]!
    const popular = productCategories.find((c) => truth.products.filter((p) => p.category === c).length > 1) ?? productCategories[0]
    const filters: { query: Record<string, string>; match: (p: ProductView) => boolean }[] = [
      { query: {}, match: () => true },
      { query: { category: popular }, match: (p) => p.category === popular },
      { query: { category: 'knowledge:pdf' }, match: (p) => p.category === 'knowledge:pdf' },
      { query: { creator: upperCased(prolific.address) }, match: (p) => p.creator === prolific.address },
      { query: { q: `SEED ${SEED}` }, match: () => true },
      { query: { q: '#1' }, match: (p) => p.name.includes('#1') },
      { query: { q: 'Tool:' }, match: (p) => p.name.toLowerCase().includes('tool:') },
      { query: { q: '%' }, match: () => false },
      { query: { q: '_' }, match: () => false },
      { query: { category: 'tool:js', q: 'tool' }, match: (p) => p.category === 'tool:js' },
      { query: { category: 'no-such-category' }, match: () => false },
    ]
    for (const { query, match } of filters) {
      for (const sort of ['revenue', 'calls', 'price', 'newest'] as const) {
        const expected = truth.products.filter(match).sort(order[sort])
        const what = `${JSON.stringify(query)} sort=${sort}`
        expect(await api.all('/v1/products', { ...query, sort, limit: 4 }), what).toEqual(expected)
        expect(await api.json('/v1/products', { ...query, sort, limit: 100 }), what).toEqual({ items: expected, next_cursor: null })
      }
      // revenue is the default order.
      expect(await api.all('/v1/products', { ...query, limit: 5 })).toEqual(truth.products.filter(match).sort(order.revenue))
    }
    expect(truth.products.filter((p) => p.name.includes('#1')).length).toBeGreaterThan(1)
  })

  it('GET /v1/products/{address}: price = the last ProductPriceUpdated (= pricePerCall()), enabled_count from the organizations', async () => {
    for (const product of truth.products) expect(await api.json(`/v1/products/${upperCased(product.address)}`)).toEqual(product)
    expect(truth.products.some((p) => p.enabled_count > 0)).toBe(true)
  })

  it('GET /v1/products/{address}/stats: the last 24 hours and the series equal its CreatorPaid', async () => {
    const start = Math.floor(now.getTime() / HOUR) * HOUR - 23 * HOUR
    for (const product of truth.products) {
      const events = chargeEvents((p) => p.product === product.address)
      const recent = events.filter((e) => e.time.getTime() >= start)
      const stats = await api.json<ProductStatsView>(`/v1/products/${product.address}/stats`)
      expect(stats).toEqual({
        product,
        revenue_24h: String(total(recent.map((e) => e.amount))),
        calls_24h: String(total(recent.map((e) => e.calls))),
        series: expectedSeries(events, 'day'),
      })
      expect(stats.series).toHaveLength(30)
      expect(String(total(stats.series.map((p) => p.amount)))).toBe(product.revenue)
      const monthly = await api.json<ProductStatsView>(`/v1/products/${product.address}/stats`, { granularity: 'month' })
      expect(monthly.series).toEqual(expectedSeries(events, 'month'))
    }
  })
})

describe('leaderboards', () => {
  it('rank creators and products by revenue or calls over 24h, 7d, 30d and all time as the chain\'s CreatorPaid do', async () => {
    const seen = new Set<string>()
    for (const entity of ['creators', 'products'] as const) {
      for (const metric of ['revenue', 'calls'] as const) {
        for (const window of ['24h', '7d', '30d', 'all'] as const) {
          const expected = expectedLeaderboard(entity, metric, window, 100)
          const what = `${entity} by ${metric} over ${window}`
          expect(await api.json(`/v1/leaderboards/${entity}`, { metric, window, limit: 100 }), what).toEqual(expected)
          expect(await api.json(`/v1/leaderboards/${entity}`, { metric, window, limit: 3 }), what).toEqual(expected.slice(0, 3))
          seen.add(JSON.stringify(expected))
        }
      }
      // Defaults: revenue, all time, top 10.
      expect(await api.json(`/v1/leaderboards/${entity}`)).toEqual(expectedLeaderboard(entity, 'revenue', 'all', 10))
    }
    // The windows are not all the same board on this market.
    expect(seen.size).toBeGreaterThan(8)
    expect(expectedLeaderboard('creators', 'revenue', '24h', 100).length).toBeGreaterThan(0)
  })
})

describe('payments', () => {
  it('GET /v1/payments lists every payment log once, newest first, across pages', async () => {
    const listed = await api.all<PaymentView>('/v1/payments', { limit: 100 })
    expect(listed).toEqual(newestFirst(truth.payments))
    expect(await api.all('/v1/payments', { limit: 33 })).toEqual(listed)
    expect((await api.json<Page<PaymentView>>('/v1/payments')).items).toEqual(listed.slice(0, 20))
  })

  it('filters by organization, creator, product, kind and block range, alone and together', async () => {
    const charge = [...charges()].reverse().find((p) => p.product !== null)!
    const orphan = charges().find((p) => p.product === null)!
    const withdrawal = truth.payments.find((p) => p.kind === 'withdrawal')!
    const mid = truth.payments[Math.floor(truth.payments.length / 2)]!.block_number
    const cases: { query: Record<string, string | number>; match: (p: PaymentView) => boolean }[] = [
      { query: { organization: charge.organization! }, match: (p) => p.organization === charge.organization },
      { query: { creator: charge.creator! }, match: (p) => p.creator === charge.creator },
      { query: { creator: withdrawal.creator! }, match: (p) => p.creator === withdrawal.creator },
      { query: { creator: orphan.creator! }, match: (p) => p.creator === orphan.creator },
      { query: { product: charge.product! }, match: (p) => p.product === charge.product },
      ...(['charge', 'model_fee', 'settlement', 'withdrawal', 'deposit'] as const).map((kind) => ({ query: { kind }, match: (p: PaymentView) => p.kind === kind })),
      { query: { from_block: mid }, match: (p) => p.block_number >= mid },
      { query: { to_block: mid }, match: (p) => p.block_number <= mid },
      { query: { from_block: mid - 20, to_block: mid + 20 }, match: (p) => p.block_number >= mid - 20 && p.block_number <= mid + 20 },
      { query: { from_block: mid, to_block: mid }, match: (p) => p.block_number === mid },
      { query: { organization: charge.organization!, kind: 'charge', to_block: mid }, match: (p) => p.organization === charge.organization && p.kind === 'charge' && p.block_number <= mid },
      { query: { creator: charge.creator!, product: charge.product!, kind: 'charge' }, match: (p) => p.product === charge.product && p.kind === 'charge' },
      { query: { creator: charge.creator!, kind: 'withdrawal' }, match: (p) => p.creator === charge.creator && p.kind === 'withdrawal' },
      // Addresses that are not what the filter names: nothing, not an error.
      { query: { creator: charge.organization! }, match: () => false },
      { query: { organization: dev.deployment.deployer }, match: () => false },
      { query: { from_block: truth.head + 1 }, match: () => false },
    ]
    for (const { query, match } of cases) {
      const expected = newestFirst(truth.payments.filter(match))
      expect(await api.all('/v1/payments', { ...query, limit: 37 }), JSON.stringify(query)).toEqual(expected)
    }
    expect(await api.all('/v1/payments', { organization: upperCased(charge.organization!), limit: 100 })).toEqual(newestFirst(truth.payments.filter((p) => p.organization === charge.organization)))
  })

  it('GET /v1/transactions/{hash}: a settlement\'s payments and transfers are its receipt\'s logs', async () => {
    const settlements = truth.payments.filter((p) => p.kind === 'settlement')
    const busiest = settlements.map((s) => ({ hash: s.tx_hash, n: truth.payments.filter((p) => p.tx_hash === s.tx_hash).length })).sort((a, b) => b.n - a.n)[0]!
    for (const hash of [busiest.hash, settlements.at(-1)!.tx_hash, charges().find((p) => p.product === null)!.tx_hash]) {
      const receipt = await dev.publicClient.getTransactionReceipt({ hash: hash as Hash })
      const block = await dev.publicClient.getBlock({ blockNumber: receipt.blockNumber })
      const tx = await api.json<TransactionView>(`/v1/transactions/${hash.toUpperCase().replace('0X', '0x')}`)
      expect(tx).toEqual({
        hash,
        block_number: Number(receipt.blockNumber),
        block_time: new Date(Number(block.timestamp) * 1000).toISOString(),
        payments: truth.payments.filter((p) => p.tx_hash === hash),
        transfers: truth.transfers.filter((t) => t.tx_hash === hash),
        organizations_created: [], products_created: [], creators_registered: [],
      })
      // The receipt itself: every log of the orchestrator and the token is there, at its index.
      const orchestratorLogs = receipt.logs.filter((l) => lower(l.address) === lower(dev.deployment.orchestrator))
      const paymentTopics = new Set(['CreatorPaid', 'ModelFeePaid', 'UsageSettled'])
      expect(tx.payments.map((p) => p.log_index).sort((a, b) => a - b)).toEqual(
        orchestratorLogs.filter((l) => [...paymentTopics].some((name) => l.topics[0] === topicOf(name))).map((l) => l.logIndex))
      expect(tx.transfers.map((t) => t.log_index)).toEqual(receipt.logs.filter((l) => lower(l.address) === lower(dev.deployment.tusdt) && l.topics[0] === topicOf('Transfer')).map((l) => l.logIndex))
      expect(tx.transfers.length).toBeGreaterThan(0)
    }
  })

  it('GET /v1/transactions/{hash}: the organization, product or creator a transaction created', async () => {
    const org = truth.organizations[1]!
    const product = truth.products[2]!
    const creator = truth.creators[1]!
    const cases = [
      { hash: truth.creations.organizations.get(org.address)!, block: org.created_block, time: org.created_at, field: 'organizations_created', address: org.address },
      { hash: truth.creations.products.get(product.address)!, block: product.created_block, time: product.created_at, field: 'products_created', address: product.address },
      { hash: truth.creations.creators.get(creator.address)!, block: creator.registered_block, time: creator.registered_at, field: 'creators_registered', address: creator.address },
    ] as const
    for (const c of cases) {
      const tx = await api.json<TransactionView>(`/v1/transactions/${c.hash}`)
      expect(tx).toMatchObject({ hash: c.hash, block_number: c.block, block_time: c.time, [c.field]: [c.address] })
      expect(tx.payments).toEqual(truth.payments.filter((p) => p.tx_hash === c.hash))
    }
  })
})

describe('GET /v1/wallets/{address}', () => {
  const expectedWallet = async (address: string): Promise<WalletView> => ({
    address,
    balance: String(await dev.publicClient.readContract({ address: dev.deployment.tusdt, abi: testUSDTAbi, functionName: 'balanceOf', args: [address as Address] })),
    organizations: truth.organizations.filter((o) => truth.ownersFromLogs.get(o.address) === address),
    creator: truth.creators.find((c) => c.address === address) ?? null,
    recent_transfers: newestFirst(truth.transfers.filter((t) => t.from === address || t.to === address)).slice(0, 20),
  })

  it('owners, former owners, creators, organizations, the server and strangers: balance = balanceOf, organizations from the logs', async () => {
    const owners = [...new Set(truth.organizations.map((o) => o.owner))]
    expect(truth.formerOwners.length).toBeGreaterThan(0)
    const wallets = [
      ...owners, ...truth.formerOwners, ...truth.creators.map((c) => c.address), truth.organizations[0]!.address, lower(dev.deployment.deployer),
      lower(dev.deployment.creatorIdentity), '0x00000000000000000000000000000000000000aa',
    ]
    for (const address of new Set(wallets)) {
      expect(await api.json(`/v1/wallets/${upperCased(address)}`), address).toEqual(await expectedWallet(address))
    }
    const server = await api.json<WalletView>(`/v1/wallets/${dev.deployment.deployer}`)
    expect(server.recent_transfers).toHaveLength(20)
    // A former owner's wallet no longer lists what it gave away.
    expect(truth.formerOwners.some((a) => !truth.organizations.some((o) => o.owner === a))).toBe(true)
  })
})

describe('GET /v1/indexer/status', () => {
  it('the indexer is following the head in realtime: indexed = head, no lag', async () => {
    const status = await api.json<IndexerStatusView>('/v1/indexer/status')
    expect(status).toMatchObject({ chain_id: chain.chainId, role: 'realtime', head: truth.head, indexed: truth.head, lag: 0, rpc_healthy: true })
    expect(status.finalized).toBe(truth.head - chain.finalityDepth)
  })
})

// ---------------------------------------------------------------------------------------------
// OpenAPI and docs
// ---------------------------------------------------------------------------------------------

describe('OpenAPI and docs', () => {
  type Json = Record<string, unknown>
  const components = (doc: Json) => (doc.components as { schemas: Record<string, Json> }).schemas

  it('/openapi.json is OpenAPI 3.1 with exactly the routes served, each with its parameters and error responses', async () => {
    const answer = await api.get<Json>('/openapi.json')
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/)
    const doc = answer.body
    expect(doc.openapi).toBe('3.1.0')
    const paths = doc.paths as Record<string, { get: Json }>
    expect(Object.keys(paths).sort()).toEqual(routes.map((r) => r.path.replace(/:(\w+)/g, '{$1}')).sort())
    const operationIds = new Set<string>()
    for (const route of routes) {
      const op = paths[route.path.replace(/:(\w+)/g, '{$1}')]!.get
      operationIds.add(op.operationId as string)
      const parameters = op.parameters as { name: string; in: string; required: boolean }[]
      expect(parameters.filter((p) => p.in === 'path').map((p) => p.name)).toEqual([...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]))
      expect(parameters.filter((p) => p.in === 'path').every((p) => p.required)).toBe(true)
      expect(parameters.filter((p) => p.in === 'query').map((p) => p.name).sort()).toEqual(Object.keys(route.query?.shape ?? {}).sort())
      const responses = op.responses as Record<string, Json>
      expect(Object.keys(responses)).toEqual(expect.arrayContaining(['200', '400', '429']))
      if (route.params) expect(responses['404']).toBeDefined()
    }
    expect(operationIds.size).toBe(routes.length)
  })

  it('real 200 answers of every route validate against their documented schemas (required fields present, no undocumented ones)', async () => {
    const doc = (await api.get<Json>('/openapi.json')).body
    const schemas = components(doc)
    const org = truth.organizations[0]!
    const creator = [...truth.creators].sort((a, b) => byBigDesc(a.revenue, b.revenue))[0]!
    const product = truth.products[0]!
    const settlement = truth.payments.find((p) => p.kind === 'settlement')!
    const urls: Record<string, string[]> = {
      '/v1/stats': ['/v1/stats'],
      '/v1/organizations': ['/v1/organizations?limit=2', '/v1/organizations?limit=100'],
      '/v1/organizations/{address}': [`/v1/organizations/${org.address}`],
      '/v1/organizations/{address}/payments': [`/v1/organizations/${org.address}/payments?limit=100`],
      '/v1/organizations/{address}/spend': [`/v1/organizations/${org.address}/spend?granularity=week`],
      '/v1/creators': ['/v1/creators?limit=100'],
      '/v1/creators/{address}': [`/v1/creators/${creator.address}`],
      '/v1/creators/{address}/products': [`/v1/creators/${creator.address}/products`],
      '/v1/creators/{address}/revenue': [`/v1/creators/${creator.address}/revenue`],
      '/v1/products': ['/v1/products?limit=100&sort=price'],
      '/v1/products/{address}': [`/v1/products/${product.address}`],
      '/v1/products/{address}/stats': [`/v1/products/${product.address}/stats`],
      '/v1/leaderboards/creators': ['/v1/leaderboards/creators?window=7d'],
      '/v1/leaderboards/products': ['/v1/leaderboards/products?metric=calls'],
      '/v1/payments': ['/v1/payments?limit=100', '/v1/payments?kind=withdrawal&limit=100', '/v1/payments?kind=deposit&limit=100'],
      '/v1/transactions/{hash}': [`/v1/transactions/${settlement.tx_hash}`, `/v1/transactions/${truth.creations.organizations.get(org.address)}`],
      '/v1/wallets/{address}': [`/v1/wallets/${org.owner}`, `/v1/wallets/${creator.address}`],
      '/v1/indexer/status': ['/v1/indexer/status'],
    }
    const paths = doc.paths as Record<string, { get: { responses: Record<string, { content: Record<string, { schema: Json }> }> } }>
    expect(Object.keys(urls).sort()).toEqual(Object.keys(paths).sort())
    for (const [path, examples] of Object.entries(urls)) {
      const schema = paths[path]!.get.responses['200']!.content['application/json']!.schema
      for (const url of examples) {
        const answer = await api.get(url)
        expect(answer.status, url).toBe(200)
        expect(validateJson(answer.body, schema, schemas), url).toEqual([])
      }
    }
    // Errors have the documented Error shape.
    for (const url of ['/v1/payments?limit=0', `/v1/organizations/${product.address}`]) {
      const answer = await api.get(url)
      expect(validateJson(answer.body, { $ref: '#/components/schemas/Error' }, schemas), url).toEqual([])
    }
  })

  it('/docs is an HTML page listing every route', async () => {
    const answer = await api.get('/docs')
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toMatch(/^text\/html/)
    for (const route of routes) expect(answer.text).toContain(route.path.replace(/:(\w+)/g, '{$1}'))
    expect(answer.text).toContain('/openapi.json')
  })
})

// ---------------------------------------------------------------------------------------------
// Bad requests
// ---------------------------------------------------------------------------------------------

describe('bad requests', () => {
  const cursor = (payload: unknown) => Buffer.from(JSON.stringify(payload)).toString('base64url')

  async function expectError(url: string, status: number, code: string, parameter?: string) {
    const answer = await api.get(url)
    const what = `${url} → ${answer.status} ${answer.text}`
    expect.soft(answer.headers.get('content-type'), what).toMatch(/^application\/json/)
    expect.soft({ status: answer.status, code: (answer.body as { error?: { code?: string } }).error?.code }, what).toEqual({ status, code })
    const message = (answer.body as { error?: { message?: string } } | undefined)?.error?.message ?? ''
    expect.soft(message.length, what).toBeGreaterThan(0)
    if (parameter) expect.soft(message, what).toMatch(new RegExp(`^${parameter.replace('.', '\\.')}: \\S`))
  }

  it('400 invalid_argument naming the parameter, for every kind of malformed input', async () => {
    const org = truth.organizations[0]!.address
    const creator = truth.creators[0]!.address
    const product = truth.products[0]!.address
    const orgsPage = await api.json<Page<OrganizationView>>('/v1/organizations', { limit: 1 })
    const byRevenue = await api.json<Page<ProductView>>('/v1/products', { sort: 'revenue', limit: 1 })
    const creatorsByRevenue = await api.json<Page<CreatorView>>('/v1/creators', { limit: 1 })
    const paymentsPage = await api.json<Page<PaymentView>>('/v1/payments', { limit: 1 })
    expect([orgsPage, byRevenue, creatorsByRevenue, paymentsPage].every((p) => p.next_cursor !== null)).toBe(true)
    const cases: [string, string][] = [
      ['/v1/organizations/0x1234', 'address'],
      ['/v1/organizations/not-an-address', 'address'],
      [`/v1/organizations/${org}00`, 'address'],
      [`/v1/creators/${creator.slice(0, -1)}g`, 'address'],
      [`/v1/wallets/${org.slice(2)}`, 'address'],
      ['/v1/organizations?limit=0', 'limit'],
      ['/v1/organizations?limit=1000', 'limit'],
      ['/v1/organizations?limit=101', 'limit'],
      ['/v1/organizations?limit=abc', 'limit'],
      ['/v1/organizations?limit=-1', 'limit'],
      ['/v1/organizations?limit=1.5', 'limit'],
      ['/v1/organizations?limit=', 'limit'],
      ['/v1/organizations?limit=99999999999999999999999', 'limit'],
      ['/v1/organizations?limit=5&limit=6', 'limit'],
      ['/v1/organizations?owner=0xnope', 'owner'],
      ['/v1/payments?cursor=not-a-cursor', 'cursor'],
      [`/v1/payments?cursor=${'A'.repeat(600)}`, 'cursor'],
      [`/v1/payments?cursor=${orgsPage.next_cursor}`, 'cursor'],
      [`/v1/products?sort=calls&cursor=${byRevenue.next_cursor}`, 'cursor'],
      [`/v1/products?sort=newest&cursor=${byRevenue.next_cursor}`, 'cursor'],
      [`/v1/creators?sort=newest&cursor=${creatorsByRevenue.next_cursor}`, 'cursor'],
      [`/v1/organizations/${org}/payments?cursor=${orgsPage.next_cursor}`, 'cursor'],
      [`/v1/payments?cursor=${paymentsPage.next_cursor!.slice(0, -3)}`, 'cursor'],
      [`/v1/payments?cursor=${cursor({ o: 'payments', k: ['x', 1] })}`, 'cursor'],
      [`/v1/payments?cursor=${cursor({ o: 'payments', k: [1] })}`, 'cursor'],
      [`/v1/payments?cursor=${cursor({ o: 'payments', k: [5, 1.5] })}`, 'cursor'],
      [`/v1/payments?cursor=${cursor({ o: 'payments', k: [1e300, 0] })}`, 'cursor'],
      [`/v1/payments?cursor=${cursor({ o: 'payments', k: [10, 3_000_000_000] })}`, 'cursor'],
      [`/v1/organizations?cursor=${cursor({ o: 'organizations', k: [2.5] })}`, 'cursor'],
      [`/v1/products?sort=newest&cursor=${cursor({ o: 'products:newest', k: [1e21] })}`, 'cursor'],
      [`/v1/creators?cursor=${cursor({ o: 'creators:revenue', k: ['0x', '1'] })}`, 'cursor'],
      [`/v1/creators?sort=newest&cursor=${cursor({ o: 'creators:newest', k: ['0xzz'] })}`, 'cursor'],
      [`/v1/products?sort=price&cursor=${cursor({ o: 'products:price', k: ['0x', product] })}`, 'cursor'],
      ['/v1/stats?foo=1', 'foo'],
      ['/v1/organizations?foo=1', 'foo'],
      [`/v1/organizations/${org}?verbose=true`, 'verbose'],
      ['/v1/payments?organisation=0x0000000000000000000000000000000000000001', 'organisation'],
      [`/v1/organizations/${org}/spend?granularity=year`, 'granularity'],
      [`/v1/creators/${creator}/revenue?granularity=hour`, 'granularity'],
      [`/v1/organizations/${org}/spend?from=2024-05-02&to=2024-05-01`, 'from'],
      [`/v1/organizations/${org}/spend?from=yesterday`, 'from'],
      [`/v1/organizations/${org}/spend?to=2024-13-45`, 'to'],
      [`/v1/organizations/${org}/spend?from=1900-01-01`, 'from'],
      [`/v1/organizations/${org}/spend?from=2024-02-30&to=2024-03-05`, 'from'],
      [`/v1/organizations/${org}/spend?from=2024-04-01&to=2024-04-31`, 'to'],
      [`/v1/organizations/${org}/spend?from=2023-02-29T10:00:00Z&to=2023-03-05`, 'from'],
      [`/v1/products/${product}/stats?from=2024-01-01T25:99`, 'from'],
      ['/v1/leaderboards/creators?window=1y', 'window'],
      ['/v1/leaderboards/products?metric=likes', 'metric'],
      ['/v1/leaderboards/products?limit=101', 'limit'],
      ['/v1/payments?from_block=10&to_block=5', 'from_block'],
      ['/v1/payments?from_block=-1', 'from_block'],
      ['/v1/payments?to_block=1e3', 'to_block'],
      ['/v1/payments?from_block=99999999999999999999', 'from_block'],
      ['/v1/payments?kind=gift', 'kind'],
      ['/v1/payments?creator=me', 'creator'],
      ['/v1/payments?product=0x12', 'product'],
      [`/v1/organizations/${org}/payments?kind=transfer`, 'kind'],
      ['/v1/transactions/0xabc', 'hash'],
      [`/v1/transactions/${'ab'.repeat(32)}`, 'hash'],
      [`/v1/transactions/0x${'zz'.repeat(32)}`, 'hash'],
      ['/v1/products?sort=popular', 'sort'],
      ['/v1/creators?sort=price', 'sort'],
      ['/v1/products?q=', 'q'],
      [`/v1/products?q=${'x'.repeat(101)}`, 'q'],
      ['/v1/products?category=', 'category'],
      ['/v1/products?category=%00', 'category'],
      ['/v1/products?q=a%00b', 'q'],
    ]
    for (const [url, parameter] of cases) await expectError(url, 400, 'invalid_argument', parameter)
  })

  it('404 not_found for what is not indexed, and for unknown routes; never a 500', async () => {
    const org = truth.organizations[0]!.address
    const product = truth.products[0]!.address
    const stranger = '0x00000000000000000000000000000000000000aa'
    for (const url of [
      `/v1/organizations/${stranger}`, `/v1/organizations/${product}`, `/v1/organizations/${stranger}/payments`, `/v1/organizations/${stranger}/spend`,
      `/v1/creators/${org}`, `/v1/creators/${stranger}/products`, `/v1/creators/${stranger}/revenue`,
      `/v1/products/${org}`, `/v1/products/${stranger}/stats`,
      `/v1/transactions/0x${'ab'.repeat(32)}`,
    ]) {
      await expectError(url, 404, 'not_found')
    }
    for (const url of ['/v1/nope', '/v2/stats', `/v1/organizations/${org}/members`, '/', '/v1/ws']) await expectError(url, 404, 'not_found')
    const post = await fetch(`${api.url}/v1/stats`, { method: 'POST', body: '{}' })
    expect(post.status).toBe(405)
    expect(await post.json()).toMatchObject({ error: { code: 'method_not_allowed' } })
  })

  it('odd but valid input is answered, not refused: a far range, repeated filters, encoded characters', async () => {
    const org = truth.organizations[0]!.address
    for (const url of [
      '/v1/payments?from_block=0&to_block=0',
      `/v1/payments?to_block=${Number.MAX_SAFE_INTEGER}`,
      `/v1/organizations/${org}/spend?granularity=month&from=2000-01-01`,
      '/v1/products?q=%27%3B%20drop%20table%20chain.products%3B--',
      '/v1/products?q=%E2%9C%93%F0%9F%98%80',
      '/v1/products?category=%E2%9C%93',
    ]) {
      const answer = await api.get(url)
      expect(answer.status, `${url}: ${answer.text}`).toBe(200)
    }
    expect((await api.json<Page<ProductView>>('/v1/products?q=%27%3B%20drop%20table%20chain.products%3B--')).items).toEqual([])
    expect(await api.json('/v1/stats')).toMatchObject({ products: String(truth.products.length) })
  })
})

describe('HTTP', () => {
  it('JSON with CORS for browsers and a request id on every answer, errors included', async () => {
    for (const url of ['/v1/stats', '/v1/organizations?limit=0', `/v1/creators/${truth.organizations[0]!.address}`]) {
      const answer = await api.get(url, {}, { Origin: 'https://explorer.example' })
      expect(answer.headers.get('access-control-allow-origin'), url).toMatch(/^(\*|https:\/\/explorer\.example)$/)
      expect(answer.headers.get('x-request-id'), url).toMatch(/\S/)
      expect(answer.headers.get('content-type'), url).toMatch(/^application\/json/)
    }
    const preflight = await fetch(`${api.url}/v1/payments`, { method: 'OPTIONS', headers: { Origin: 'https://explorer.example', 'Access-Control-Request-Method': 'GET' } })
    expect(preflight.status).toBeLessThan(300)
    expect(preflight.headers.get('access-control-allow-methods') ?? '').toMatch(/GET/)
  })
})

// ---------------------------------------------------------------------------------------------
// Rate limits
// ---------------------------------------------------------------------------------------------

describe('rate limits', () => {
  const apiKey = 'read-api-test-key-0123456789abcdef'
  let limited: ReadApi

  beforeAll(async () => {
    limited = await startReadApi(database, chain.chainId, { clock: () => now, api: { rateLimit: { anonymousPerMinute: 5, identifiedPerMinute: 8 }, apiKeys: [apiKey] } })
  })
  afterAll(() => limited?.close())

  it('anonymous callers: 5 a minute, then 429 with Retry-After and RateLimit-* headers; an API key gets its own, larger budget', async () => {
    // A wrong key is refused as such (and spends the anonymous budget of the caller's address).
    const wrong = await limited.get('/v1/stats', {}, { Authorization: 'Bearer not-the-key-at-all-000000' })
    expect(wrong.status).toBe(401)
    expect(wrong.body).toMatchObject({ error: { code: 'unauthenticated', message: expect.stringMatching(/API key/) } })
    for (let i = 2; i <= 5; i++) {
      const answer = await limited.get('/v1/stats')
      expect(answer.status).toBe(200)
      expect(answer.headers.get('ratelimit-limit')).toBe('5')
      expect(answer.headers.get('ratelimit-remaining')).toBe(String(5 - i))
      expect(Number(answer.headers.get('ratelimit-reset'))).toBeGreaterThanOrEqual(0)
      expect(Number(answer.headers.get('ratelimit-reset'))).toBeLessThanOrEqual(60)
    }
    const refused = await limited.get('/v1/organizations')
    expect(refused.status).toBe(429)
    expect(refused.body).toMatchObject({ error: { code: 'rate_limited', message: expect.stringMatching(/5 a minute/) } })
    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true)
    expect(refused.headers.get('ratelimit-limit')).toBe('5')
    expect(refused.headers.get('ratelimit-remaining')).toBe('0')
    expect(refused.headers.get('ratelimit-reset')).not.toBeNull()
    // Still refused; health and metrics are not limited.
    expect((await limited.get('/v1/stats')).status).toBe(429)
    expect((await limited.get('/health')).status).toBe(200)
    expect((await limited.get('/metrics')).status).toBe(200)

    // The key: 8 a minute, whichever header carries it.
    for (let i = 1; i <= 8; i++) {
      const headers: Record<string, string> = i % 2 === 0 ? { 'X-API-Key': apiKey } : { Authorization: `Bearer ${apiKey}` }
      const answer = await limited.get('/v1/stats', {}, headers)
      expect(answer.status, answer.text).toBe(200)
      expect(answer.headers.get('ratelimit-limit')).toBe('8')
      expect(answer.headers.get('ratelimit-remaining')).toBe(String(8 - i))
    }
    const keyRefused = await limited.get('/v1/stats', {}, { Authorization: `Bearer ${apiKey}` })
    expect(keyRefused.status).toBe(429)
    expect(keyRefused.body).toMatchObject({ error: { code: 'rate_limited', message: expect.stringMatching(/API key/) } })
    expect(Number(keyRefused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  })

  it('a wallet signature (X-Haithe-Address, -Timestamp, -Signature) is an identified caller with a budget of its own', async () => {
    const account = privateKeyToAccount(generatePrivateKey())
    const timestamp = String(Math.floor(Date.now() / 1000))
    const headers = {
      'X-Haithe-Address': account.address, 'X-Haithe-Timestamp': timestamp,
      'X-Haithe-Signature': await account.signMessage({ message: `haithe-read-api:${timestamp}` }),
    }
    for (let i = 1; i <= 8; i++) {
      const answer = await limited.get('/v1/stats', {}, headers)
      expect(answer.status, answer.text).toBe(200)
      expect([answer.headers.get('ratelimit-limit'), answer.headers.get('ratelimit-remaining')]).toEqual(['8', String(8 - i)])
    }
    const refused = await limited.get('/v1/stats', {}, headers)
    expect(refused.status).toBe(429)
    expect(refused.body).toMatchObject({ error: { code: 'rate_limited', message: expect.stringMatching(/wallet/) } })
    // Someone else's signature for that address is refused: 401, or 429 once the caller's address
    // has spent its anonymous budget (which wrong credentials spend first, by design).
    const forged = await limited.get('/v1/stats', {}, { ...headers, 'X-Haithe-Signature': await privateKeyToAccount(generatePrivateKey()).signMessage({ message: `haithe-read-api:${timestamp}` }) })
    expect([401, 429]).toContain(forged.status)
  })
})

// ---------------------------------------------------------------------------------------------

/** The topic0 of one of the orchestrator's or the token's events. */
function topicOf(name: string): string {
  const abi: readonly unknown[] = name === 'Transfer' ? testUSDTAbi : haitheOrchestratorAbi
  const event = abi.find((item) => (item as AbiEvent).type === 'event' && (item as AbiEvent).name === name)
  if (!event) throw new Error(`no event ${name}`)
  return toEventSelector(event as AbiEvent)
}
