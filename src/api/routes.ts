/**
 * The REST routes under /v1, as data: path, parameters (zod, validated and documented from the
 * same schema), response schema and the read behind it. The router and the OpenAPI document
 * are both built from this table, so they cannot disagree.
 */
import { z } from 'zod'
import * as read from '../read/index.js'
import type { CachedValue } from '../cache/index.js'

export interface RouteSpec {
  /** Koa path with `:name` parameters. */
  path: string
  summary: string
  tag: 'Market' | 'Organizations' | 'Creators' | 'Products' | 'Leaderboards' | 'Payments' | 'Wallets' | 'Indexer'
  params?: z.ZodObject
  query?: z.ZodObject
  response: z.ZodType
  /** Answers with a cached value (its JSON is sent as it is). */
  run(reads: read.Reads, params: never, query: never): Promise<CachedValue<unknown>>
}

const route = <P extends z.ZodObject | undefined, Q extends z.ZodObject | undefined>(spec: {
  path: string; summary: string; tag: RouteSpec['tag']; params?: P; query?: Q; response: z.ZodType
  run(reads: read.Reads, params: P extends z.ZodObject ? z.output<P> : undefined, query: Q extends z.ZodObject ? z.output<Q> : undefined): Promise<CachedValue<unknown>>
}): RouteSpec => spec as RouteSpec

const { addressPath, txHashPath } = read
const uncached = (value: unknown): CachedValue<unknown> => ({ value, json: JSON.stringify(value) })

export const routes: RouteSpec[] = [
  route({ path: '/v1/stats', tag: 'Market', summary: 'Market totals: organizations, creators, products, calls, volume, 24 h volume',
    query: z.strictObject({}), response: read.marketStatsView, run: (r) => r.stats() }),

  route({ path: '/v1/organizations', tag: 'Organizations', summary: 'Organizations in creation order',
    query: read.organizationListQuery, response: read.pageOf(read.organizationView), run: (r, _, q) => r.listOrganizations(q) }),
  route({ path: '/v1/organizations/:address', tag: 'Organizations', summary: 'One organization: owner, name, balance, deposits, spend',
    params: addressPath, query: z.strictObject({}), response: read.organizationView, run: (r, p) => r.getOrganization(p.address) }),
  route({ path: '/v1/organizations/:address/payments', tag: 'Organizations', summary: 'The organization\'s payments, newest first',
    params: addressPath, query: read.organizationPaymentsQuery, response: read.pageOf(read.paymentView), run: (r, p, q) => r.listOrganizationPayments(p.address, q) }),
  route({ path: '/v1/organizations/:address/spend', tag: 'Organizations', summary: 'What the organization spent (charges to creators and model fees), and its AI calls, per day, week or month',
    params: addressPath, query: read.seriesQuery, response: z.array(read.seriesPoint), run: (r, p, q) => r.getOrganizationSpend(p.address, q) }),

  route({ path: '/v1/creators', tag: 'Creators', summary: 'Creators by revenue, calls or newest',
    query: read.creatorListQuery, response: read.pageOf(read.creatorView), run: (r, _, q) => r.listCreators(q) }),
  route({ path: '/v1/creators/:address', tag: 'Creators', summary: 'One creator: identity token, revenue, calls, withdrawn, claimable',
    params: addressPath, query: z.strictObject({}), response: read.creatorView, run: (r, p) => r.getCreator(p.address) }),
  route({ path: '/v1/creators/:address/products', tag: 'Creators', summary: 'The creator\'s products, newest first',
    params: addressPath, query: read.pageQuery, response: read.pageOf(read.productView), run: (r, p, q) => r.listCreatorProducts(p.address, q) }),
  route({ path: '/v1/creators/:address/revenue', tag: 'Creators', summary: 'The creator\'s revenue and calls per day, week or month',
    params: addressPath, query: read.seriesQuery, response: z.array(read.seriesPoint), run: (r, p, q) => r.getCreatorRevenue(p.address, q) }),

  route({ path: '/v1/products', tag: 'Products', summary: 'Products, filtered by category, creator or name, sorted by revenue, calls, price or newest',
    query: read.productListQuery, response: read.pageOf(read.productView), run: (r, _, q) => r.listProducts(q) }),
  route({ path: '/v1/products/:address', tag: 'Products', summary: 'One product',
    params: addressPath, query: z.strictObject({}), response: read.productView, run: (r, p) => r.getProduct(p.address) }),
  route({ path: '/v1/products/:address/stats', tag: 'Products', summary: 'A product\'s last 24 hours and its revenue and calls per day, week or month',
    params: addressPath, query: read.seriesQuery, response: read.productStatsView, run: (r, p, q) => r.getProductStats(p.address, q) }),

  route({ path: '/v1/leaderboards/creators', tag: 'Leaderboards', summary: 'Top creators by revenue or calls over 24h, 7d, 30d or all time',
    query: read.leaderboardQuery, response: z.array(read.leaderboardEntry), run: (r, _, q) => r.creatorLeaderboard(q) }),
  route({ path: '/v1/leaderboards/products', tag: 'Leaderboards', summary: 'Top products by revenue or calls over 24h, 7d, 30d or all time',
    query: read.leaderboardQuery, response: z.array(read.leaderboardEntry), run: (r, _, q) => r.productLeaderboard(q) }),

  route({ path: '/v1/payments', tag: 'Payments', summary: 'Payments, newest first, by organization, creator, product, kind and block range',
    query: read.paymentListQuery, response: read.pageOf(read.paymentView), run: (r, _, q) => r.listPayments(q) }),
  route({ path: '/v1/transactions/:hash', tag: 'Payments', summary: 'What one transaction did: payments, transfers, entities created',
    params: txHashPath, query: z.strictObject({}), response: read.transactionView, run: (r, p) => r.getTransaction(p.hash) }),

  route({ path: '/v1/wallets/:address', tag: 'Wallets', summary: 'What a wallet shows: tUSDT balance, organizations owned, creator identity, recent transfers',
    params: addressPath, query: z.strictObject({}), response: read.walletView, run: (r, p) => r.getWallet(p.address) }),

  route({ path: '/v1/indexer/status', tag: 'Indexer', summary: 'Chain id, head, indexed and finalized blocks, lag, events/s, readiness',
    query: z.strictObject({}), response: read.indexerStatusView, run: async (r) => uncached(await r.indexerStatus()) }),
]
