// Table types for kysely, one property per table, keyed by its schema-qualified name.
// Each migration that adds a table adds its property here.
//
// Schemas: `chain` is written by the indexer only, `app` by the write path only
// (see migrations/0001_schemas.sql). int8 and numeric(78,0) come back as decimal strings
// (see createDatabase), never JS numbers; they are written from strings or bigints.
import type { ColumnType, Generated } from 'kysely'

/** numeric(78,0) or int8: read as a decimal string, written from a string or bigint. */
export type Int = ColumnType<string, string | bigint, string | bigint>
/** The same with a database default. */
export type IntDefault = ColumnType<string, string | bigint | undefined, string | bigint>
export type Timestamp = ColumnType<Date, Date | string, Date | string>

export interface CheckpointsTable {
  chain_id: number
  block_number: Int
  block_hash: string | null
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>
}

export interface BlocksTable {
  chain_id: number
  number: Int
  hash: string
  parent_hash: string
  timestamp: Int
}

export interface OrganizationsTable {
  chain_id: number
  address: string
  index: Int
  owner: string
  name: string
  balance: IntDefault
  deposited: IntDefault
  spent: IntDefault
  calls: IntDefault
  enabled_product_count: ColumnType<number, number | undefined, number>
  created_block: Int
  created_tx: string
  created_at: Timestamp
}

export interface CreatorsTable {
  chain_id: number
  token_id: Int
  address: string
  uri: string
  revenue: IntDefault
  calls: IntDefault
  withdrawn: IntDefault
  claimable: IntDefault
  registered_block: Int
  registered_tx: string
  registered_at: Timestamp
}

export interface ProductsTable {
  chain_id: number
  address: string
  index: Int
  creator: string
  creator_id: Int
  name: string
  category: string
  uri: string
  price: Int
  enabled_count: ColumnType<number, number | undefined, number>
  calls: IntDefault
  revenue: IntDefault
  created_block: Int
  created_tx: string
  created_at: Timestamp
}

export interface ProductEnablementsTable {
  chain_id: number
  organization: string
  product: string
  enabled: boolean
  updated_block: Int
}

export type PaymentKind = 'charge' | 'model_fee' | 'settlement' | 'withdrawal' | 'deposit'

export interface PaymentsTable {
  chain_id: number
  tx_hash: string
  log_index: number
  block_number: Int
  block_time: Timestamp
  kind: PaymentKind
  organization: string | null
  creator_id: Int | null
  product: string | null
  amount: Int
  calls: Int | null
  batch_id: string | null
  account: string | null
}

export interface TokenTransfersTable {
  chain_id: number
  tx_hash: string
  log_index: number
  block_number: Int
  block_time: Timestamp
  from_address: string
  to_address: string
  amount: Int
}

export interface TokenBalancesTable {
  chain_id: number
  address: string
  balance: Int
}

export interface CreatorRevenueDailyTable {
  chain_id: number
  creator_id: Int
  day: ColumnType<string, string, string>
  revenue: Int
  calls: Int
}

export interface ProductStatsDailyTable {
  chain_id: number
  product: string
  day: ColumnType<string, string, string>
  revenue: Int
  calls: Int
}

export interface CreatorRevenueHourlyTable {
  chain_id: number
  creator_id: Int
  /** The UTC hour (date_trunc('hour', block time)). */
  hour: Timestamp
  revenue: Int
  calls: Int
}

export interface ProductStatsHourlyTable {
  chain_id: number
  product: string
  /** The UTC hour (date_trunc('hour', block time)). */
  hour: Timestamp
  revenue: Int
  calls: Int
}

export interface OrgSpendDailyTable {
  chain_id: number
  organization: string
  day: ColumnType<string, string, string>
  spent: Int
  calls: Int
}

export interface MarketDailyTable {
  chain_id: number
  day: ColumnType<string, string, string>
  volume: Int
  calls: Int
}

export interface MarketHourlyTable {
  chain_id: number
  hour: Timestamp
  volume: Int
  calls: Int
}

export interface MarketTotalsTable {
  chain_id: number
  organizations: IntDefault
  creators: IntDefault
  products: IntDefault
  calls: IntDefault
  volume: IntDefault
}

/** Roles an indexer reports (indexer/'s IndexerRole). */
export type IndexerStatusRole = 'starting' | 'standby' | 'backfill' | 'realtime' | 'stopped' | 'failed'

/** The leading indexer's status per chain, for a read API in another process. Bookkeeping, not journaled. */
export interface IndexerStatusTable {
  chain_id: number
  role: IndexerStatusRole
  head_block: Int | null
  indexed_block: Int | null
  finalized_block: Int | null
  events_per_second: ColumnType<number, number | undefined, number>
  rpc_healthy: boolean
  ready: boolean
  error: string | null
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>
}

export interface UndoLogTable {
  id: Generated<string>
  chain_id: number
  block_number: Int
  table_name: string
  operation: 'I' | 'U' | 'D'
  row_data: ColumnType<Record<string, unknown>, string, string>
}

export interface Database {
  'chain.checkpoints': CheckpointsTable
  'chain.blocks': BlocksTable
  'chain.organizations': OrganizationsTable
  'chain.creators': CreatorsTable
  'chain.products': ProductsTable
  'chain.product_enablements': ProductEnablementsTable
  'chain.payments': PaymentsTable
  'chain.token_transfers': TokenTransfersTable
  'chain.token_balances': TokenBalancesTable
  'chain.creator_revenue_daily': CreatorRevenueDailyTable
  'chain.product_stats_daily': ProductStatsDailyTable
  'chain.creator_revenue_hourly': CreatorRevenueHourlyTable
  'chain.product_stats_hourly': ProductStatsHourlyTable
  'chain.org_spend_daily': OrgSpendDailyTable
  'chain.market_daily': MarketDailyTable
  'chain.market_hourly': MarketHourlyTable
  'chain.market_totals': MarketTotalsTable
  'chain.indexer_status': IndexerStatusTable
  'chain.undo_log': UndoLogTable
}
