/**
 * The read queries bound to one database and chain, behind the hot cache: what REST, gRPC and
 * the WebSocket feed call. Each read names the tables it depends on, so an indexer commit that
 * touches one of them drops its cached answers. Without a cache every read goes to the database.
 */
import type { CachedValue, HotCache } from '../cache/index.js'
import type { ReadContext } from './context.js'
import { getCreator, getCreatorRevenue, listCreatorProducts, listCreators } from './creators.js'
import { getIndexerStatus } from './indexer-status.js'
import { creatorLeaderboard, productLeaderboard } from './leaderboards.js'
import { getOrganization, getOrganizationSpend, listOrganizationPayments, listOrganizations } from './organizations.js'
import { getTransaction, listPayments } from './payments.js'
import { getProduct, getProductStats, listProducts } from './products.js'
import { getMarketStats } from './stats.js'
import { getWallet } from './wallets.js'

/** A query function of the read side, its first parameter the context. */
type Query = (ctx: ReadContext, ...args: never[]) => Promise<unknown>
type Rest<F> = F extends (ctx: ReadContext, ...args: infer A) => Promise<infer R> ? { args: A; result: R } : never

const queries = {
  stats: { run: getMarketStats, tables: ['market_totals', 'market_hourly'] },
  listOrganizations: { run: listOrganizations, tables: ['organizations', 'token_balances'] },
  getOrganization: { run: getOrganization, tables: ['organizations', 'token_balances'] },
  listOrganizationPayments: { run: listOrganizationPayments, tables: ['organizations', 'payments', 'creators'] },
  getOrganizationSpend: { run: getOrganizationSpend, tables: ['organizations', 'org_spend_daily'] },
  listCreators: { run: listCreators, tables: ['creators'] },
  getCreator: { run: getCreator, tables: ['creators'] },
  listCreatorProducts: { run: listCreatorProducts, tables: ['creators', 'products'] },
  getCreatorRevenue: { run: getCreatorRevenue, tables: ['creators', 'creator_revenue_daily'] },
  listProducts: { run: listProducts, tables: ['products'] },
  getProduct: { run: getProduct, tables: ['products'] },
  getProductStats: { run: getProductStats, tables: ['products', 'product_stats_daily', 'product_stats_hourly'] },
  creatorLeaderboard: { run: creatorLeaderboard, tables: ['creators', 'creator_revenue_daily', 'creator_revenue_hourly'] },
  productLeaderboard: { run: productLeaderboard, tables: ['products', 'product_stats_daily', 'product_stats_hourly'] },
  listPayments: { run: listPayments, tables: ['payments', 'creators'] },
  getTransaction: { run: getTransaction, tables: ['payments', 'token_transfers', 'organizations', 'products', 'creators'] },
  getWallet: { run: getWallet, tables: ['token_balances', 'token_transfers', 'organizations', 'creators'] },
} satisfies Record<string, { run: Query; tables: readonly string[] }>

type Queries = typeof queries

export type Reads = {
  [K in keyof Queries]: (...args: Rest<Queries[K]['run']>['args']) => Promise<CachedValue<Rest<Queries[K]['run']>['result']>>
} & {
  /** Never cached: it changes every second. */
  indexerStatus(): ReturnType<typeof getIndexerStatus>
}

/**
 * Binds every query to `ctx`; with `cache`, answers come from it (keyed by the query's name and
 * arguments; time-windowed reads also by the minute, so "last 24 h" moves on without a commit).
 */
export function createReads(ctx: ReadContext, cache?: HotCache): Reads {
  const reads: Record<string, unknown> = { indexerStatus: () => getIndexerStatus(ctx) }
  for (const [name, { run, tables }] of Object.entries(queries) as [string, { run: Query; tables: readonly string[] }][]) {
    // Reads whose answer moves with the clock ("last 24 h", series ending today by default).
    const windowed = name === 'stats' || name.endsWith('Leaderboard') || name === 'getProductStats' || name === 'getCreatorRevenue' || name === 'getOrganizationSpend'
    reads[name] = async (...args: never[]) => {
      const load = () => run(ctx, ...args)
      if (!cache) {
        const value = await load()
        return { value, json: JSON.stringify(value) }
      }
      const minute = windowed ? `@${Math.floor((ctx.now ? ctx.now() : new Date()).getTime() / 60_000)}` : ''
      return cache.get(`${name}${minute}:${JSON.stringify(args)}`, tables, load)
    }
  }
  return reads as Reads
}
