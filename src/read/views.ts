/**
 * What the read API returns, as plain JSON objects (snake_case, amounts and int8 counts as
 * decimal strings, block numbers as numbers, times as ISO 8601 UTC), and the mapping from rows.
 * REST sends these as they are; gRPC maps them field by field.
 */
import type { Selectable } from 'kysely'
import { z } from 'zod'
import type { CreatorsTable, OrganizationsTable, ProductsTable } from '../db/index.js'

const decimal = (description: string) => z.string().regex(/^\d+$/).meta({ description: `${description} (decimal string)` })
const amount = (description: string) => decimal(`${description}, tUSDT base units`)
const address = z.string().meta({ description: 'lowercase 0x address' })
const isoTime = z.string().meta({ description: 'ISO 8601 UTC' })

export const organizationView = z.object({
  address,
  index: z.number().int().meta({ description: 'creation order in the orchestrator' }),
  owner: address,
  name: z.string(),
  balance: amount('tUSDT held'),
  deposited: amount('tUSDT received'),
  spent: amount('paid in charges to creators and model fees'),
  calls: decimal('AI calls billed'),
  enabled_product_count: z.number().int(),
  created_block: z.number().int(),
  created_tx: z.string(),
  created_at: isoTime,
}).meta({ id: 'Organization' })
export type OrganizationView = z.infer<typeof organizationView>

export const creatorView = z.object({
  address,
  token_id: decimal('identity NFT token id'),
  uri: z.string(),
  revenue: amount('earned, all time'),
  calls: decimal('calls paid for'),
  withdrawn: amount('withdrawn'),
  claimable: amount('not yet withdrawn'),
  registered_block: z.number().int(),
  registered_tx: z.string(),
  registered_at: isoTime,
}).meta({ id: 'Creator' })
export type CreatorView = z.infer<typeof creatorView>

export const productView = z.object({
  address,
  index: z.number().int(),
  creator: address,
  creator_id: decimal('creator token id'),
  name: z.string(),
  category: z.string(),
  uri: z.string(),
  price: amount('price per call'),
  enabled_count: z.number().int().meta({ description: 'organizations that have it enabled' }),
  calls: decimal('calls'),
  revenue: amount('earned'),
  created_block: z.number().int(),
  created_tx: z.string(),
  created_at: isoTime,
}).meta({ id: 'Product' })
export type ProductView = z.infer<typeof productView>

export const paymentView = z.object({
  tx_hash: z.string(),
  log_index: z.number().int(),
  block_number: z.number().int(),
  block_time: isoTime,
  kind: z.enum(['charge', 'model_fee', 'settlement', 'withdrawal', 'deposit']),
  organization: address.nullable(),
  creator: address.nullable(),
  creator_id: decimal('creator token id').nullable(),
  product: address.nullable(),
  amount: amount('amount'),
  calls: decimal('calls').nullable(),
  batch_id: z.string().nullable(),
  account: address.nullable(),
}).meta({ id: 'Payment' })
export type PaymentView = z.infer<typeof paymentView>

export const transferView = z.object({
  tx_hash: z.string(),
  log_index: z.number().int(),
  block_number: z.number().int(),
  block_time: isoTime,
  from: address,
  to: address,
  amount: amount('amount'),
}).meta({ id: 'Transfer' })
export type TransferView = z.infer<typeof transferView>

export const seriesPoint = z.object({
  period: z.string().meta({ description: 'first day of the bucket, YYYY-MM-DD (UTC); weeks start on Monday' }),
  amount: amount('revenue or spend in the bucket'),
  calls: decimal('calls in the bucket'),
}).meta({ id: 'SeriesPoint' })
export type SeriesPoint = z.infer<typeof seriesPoint>

export const leaderboardEntry = z.object({
  rank: z.number().int(),
  address,
  label: z.string().meta({ description: 'creators: the identity token id; products: the name' }),
  revenue: amount('revenue in the window'),
  calls: decimal('calls in the window'),
}).meta({ id: 'LeaderboardEntry' })
export type LeaderboardEntry = z.infer<typeof leaderboardEntry>

/** A page of a list: `next_cursor` is null on the last page. */
export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next_cursor: z.string().nullable() })

export const iso = (value: Date | string): string => (value instanceof Date ? value : new Date(value)).toISOString()

export function toOrganizationView(row: Selectable<OrganizationsTable>): OrganizationView {
  return {
    address: row.address, index: Number(row.index), owner: row.owner, name: row.name, balance: row.balance, deposited: row.deposited,
    spent: row.spent, calls: row.calls, enabled_product_count: row.enabled_product_count, created_block: Number(row.created_block),
    created_tx: row.created_tx, created_at: iso(row.created_at),
  }
}

export function toCreatorView(row: Selectable<CreatorsTable>): CreatorView {
  return {
    address: row.address, token_id: row.token_id, uri: row.uri, revenue: row.revenue, calls: row.calls, withdrawn: row.withdrawn,
    claimable: row.claimable, registered_block: Number(row.registered_block), registered_tx: row.registered_tx, registered_at: iso(row.registered_at),
  }
}

export function toProductView(row: Selectable<ProductsTable>): ProductView {
  return {
    address: row.address, index: Number(row.index), creator: row.creator, creator_id: row.creator_id, name: row.name, category: row.category,
    uri: row.uri, price: row.price, enabled_count: row.enabled_count, calls: row.calls, revenue: row.revenue,
    created_block: Number(row.created_block), created_tx: row.created_tx, created_at: iso(row.created_at),
  }
}

export const marketStatsView = z.object({
  organizations: decimal('organizations'),
  creators: decimal('creators'),
  products: decimal('products'),
  calls: decimal('AI calls billed (model fees), all time'),
  volume: amount('paid to creators and in model fees, all time'),
  volume_24h: amount('the same, in the current UTC hour and the 23 before it'),
  calls_24h: decimal('AI calls billed, in the current UTC hour and the 23 before it'),
}).meta({ id: 'MarketStats' })
export type MarketStatsView = z.infer<typeof marketStatsView>

export const transactionView = z.object({
  hash: z.string(),
  block_number: z.number().int(),
  block_time: isoTime,
  payments: z.array(paymentView),
  transfers: z.array(transferView),
  organizations_created: z.array(address),
  products_created: z.array(address),
  creators_registered: z.array(address),
}).meta({ id: 'Transaction' })
export type TransactionView = z.infer<typeof transactionView>

export const walletView = z.object({
  address,
  balance: amount('tUSDT balance from the indexed transfers'),
  organizations: z.array(organizationView).meta({ description: 'organizations it owns (first 100)' }),
  creator: creatorView.nullable(),
  recent_transfers: z.array(transferView).meta({ description: 'its 20 latest tUSDT transfers, in or out' }),
}).meta({ id: 'Wallet' })
export type WalletView = z.infer<typeof walletView>

export const productStatsView = z.object({
  product: productView,
  revenue_24h: amount('earned in the last 24 hours (hourly buckets)'),
  calls_24h: decimal('calls in the last 24 hours'),
  series: z.array(seriesPoint),
}).meta({ id: 'ProductStats' })
export type ProductStatsView = z.infer<typeof productStatsView>

export const indexerStatusView = z.object({
  chain_id: z.number().int(),
  role: z.string().meta({ description: 'starting, backfill, realtime, standby, stopped, failed; absent when no indexer ever reported' }),
  head: z.number().int().nullable(),
  indexed: z.number().int().nullable(),
  finalized: z.number().int().nullable(),
  lag: z.number().int().nullable(),
  events_per_second: z.number().int(),
  rpc_healthy: z.boolean(),
  ready: z.boolean().meta({ description: 'caught up with the head and reporting' }),
  error: z.string().nullable(),
  updated_at: isoTime.nullable(),
}).meta({ id: 'IndexerStatus' })
export type IndexerStatusView = z.infer<typeof indexerStatusView>

export const eventView = z.object({
  kind: z.enum(['charge', 'model_fee', 'settlement', 'withdrawal', 'deposit', 'transfer']),
  block_number: z.number().int(),
  log_index: z.number().int(),
  tx_hash: z.string(),
  block_time: isoTime,
  amount: amount('amount'),
  organization: address.nullable(),
  creator: address.nullable(),
  product: address.nullable(),
  account: address.nullable(),
  from: address.nullable(),
  to: address.nullable(),
  calls: decimal('calls').nullable(),
  batch_id: z.string().nullable(),
}).meta({ id: 'Event' })
export type EventView = z.infer<typeof eventView>
