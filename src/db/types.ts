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

export interface DeferredIndexesTable {
  name: string
  definition: string
}

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

// ---- schema app (the write path) ----

type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>
type Numeric = ColumnType<string, string | bigint, string | bigint>

export interface AccountsTable {
  address: string
  created_at: CreatedAt
  last_login_at: Timestamp | null
}

export interface NoncesTable {
  nonce: string
  address: string
  created_at: CreatedAt
  expires_at: Timestamp
  used_at: Timestamp | null
}

export interface SessionsTable {
  id: string
  address: string
  ip: string | null
  user_agent: string | null
  created_at: CreatedAt
  expires_at: Timestamp
  revoked_at: Timestamp | null
}

export type ApiKeyKind = 'wallet' | 'scoped'
export type ProjectRole = 'admin' | 'developer' | 'viewer'
export type OrgMemberRole = 'admin' | 'member'

export interface ApiKeysTable {
  id: Generated<string>
  kind: ApiKeyKind
  address: string
  key_hash: Buffer
  hint: string
  name: string | null
  chain_id: number | null
  organization: string | null
  project_id: string | null
  role: ProjectRole | null
  monthly_limit: Numeric | null
  created_at: CreatedAt
  revoked_at: Timestamp | null
  last_used_at: Timestamp | null
}

export interface OrganizationSettingsTable {
  chain_id: number
  organization: string
  display_name: string | null
  archived_at: Timestamp | null
  updated_at: CreatedAt
}

export interface OrgMembersTable {
  chain_id: number
  organization: string
  address: string
  role: OrgMemberRole
  created_at: CreatedAt
}

export interface ModelsTable {
  id: number
  name: string
  display_name: string
  provider: string
  is_active: boolean
  price_per_call: Numeric
}

export interface OrgModelEnrollmentsTable {
  chain_id: number
  organization: string
  model_id: number
  created_at: CreatedAt
}

export interface ProjectsTable {
  id: Generated<string>
  uid: string
  chain_id: number
  organization: string
  name: string
  search_enabled: ColumnType<boolean, boolean | undefined, boolean>
  memory_enabled: ColumnType<boolean, boolean | undefined, boolean>
  default_model_id: number | null
  created_at: CreatedAt
  updated_at: CreatedAt
  deleted_at: Timestamp | null
}

export interface ProjectMembersTable {
  project_id: string | bigint
  address: string
  role: ProjectRole
  created_at: CreatedAt
}

export interface ProjectProductsTable {
  project_id: string | bigint
  product: string
  created_at: CreatedAt
}

export interface ProductDetailsTable {
  chain_id: number
  product: string
  description: string | null
  photo_url: string | null
  updated_at: CreatedAt
}

export type OutboxStatus = 'queued' | 'pending' | 'mined' | 'confirmed' | 'failed'

export interface TxOutboxTable {
  id: Generated<string>
  idempotency_key: string
  chain_id: number
  kind: string
  requested_by: string | null
  from_address: string
  to_address: string
  data: string
  value: ColumnType<string, string | bigint | undefined, string | bigint>
  gas_limit: Numeric | null
  nonce: Numeric | null
  status: ColumnType<OutboxStatus, OutboxStatus | undefined, OutboxStatus>
  tx_hash: string | null
  block_number: Numeric | null
  attempts: ColumnType<number, number | undefined, number>
  error: string | null
  created_at: CreatedAt
  updated_at: CreatedAt
}

export interface TxAttemptsTable {
  tx_hash: string
  outbox_id: string | bigint
  raw: string
  max_fee_per_gas: Numeric
  max_priority_fee_per_gas: Numeric
  created_at: CreatedAt
  broadcast_at: Timestamp | null
}

export interface SignerNoncesTable {
  chain_id: number
  address: string
  next_nonce: Numeric
}

export interface FaucetGrantsTable {
  address: string
  last_granted_at: Timestamp
  outbox_id: string | bigint | null
}

export interface WebhookEventsTable {
  provider: string
  event_id: string
  type: string
  received_at: CreatedAt
  outbox_id: string | bigint | null
}

export interface IdempotentRequestsTable {
  caller: string
  key: string
  method: string
  path: string
  status: number | null
  body: ColumnType<unknown, string | null, string | null>
  created_at: CreatedAt
}

export type UsageLineStatus = 'reserved' | 'charged' | 'released'

export interface UsageLedgerTable {
  id: Generated<string>
  request_id: string
  chain_id: number
  organization: string
  project_id: string | bigint
  api_key_id: string | bigint | null
  wallet: string
  model_id: number
  model_amount: Numeric
  amount: Numeric
  status: UsageLineStatus
  prompt_tokens: number | null
  completion_tokens: number | null
  total_tokens: number | null
  batch_id: string | null
  settled_tx: string | null
  settled_at: Timestamp | null
  created_at: CreatedAt
  updated_at: CreatedAt
}

export interface KnowledgeChunksTable {
  chain_id: number
  product: string
  version: string
  ordinal: number
  content: string
  /** Generated from content (to_tsvector('english', content)). */
  tsv: ColumnType<string, never, never>
  created_at: CreatedAt
}

export interface ConversationsTable {
  id: string
  chain_id: number
  project_id: string | bigint
  wallet: string
  external_id: string | null
  title: string | null
  created_at: CreatedAt
  updated_at: CreatedAt
  deleted_at: Timestamp | null
}

export interface MemoryMessagesTable {
  id: Generated<string>
  conversation_id: string
  role: string
  message: ColumnType<unknown, string, string>
  created_at: CreatedAt
}

export interface BillingAccountsTable {
  chain_id: number
  organization: string
  owed: ColumnType<string, string | undefined, string>
}

export interface UsageLineProductsTable {
  ledger_id: string | bigint
  product: string
  amount: Numeric
}

export type SettlementBatchStatus = 'pending' | 'settled' | 'failed'

export interface SettlementBatchesTable {
  batch_id: string
  chain_id: number
  organization: string
  total: Numeric
  lines: number
  outbox_id: string | bigint | null
  status: SettlementBatchStatus
  tx_hash: string | null
  created_at: CreatedAt
  settled_at: Timestamp | null
}

export interface Database {
  'chain.checkpoints': CheckpointsTable
  'chain.deferred_indexes': DeferredIndexesTable
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
  'app.accounts': AccountsTable
  'app.nonces': NoncesTable
  'app.sessions': SessionsTable
  'app.api_keys': ApiKeysTable
  'app.organization_settings': OrganizationSettingsTable
  'app.org_members': OrgMembersTable
  'app.models': ModelsTable
  'app.org_model_enrollments': OrgModelEnrollmentsTable
  'app.projects': ProjectsTable
  'app.project_members': ProjectMembersTable
  'app.project_products': ProjectProductsTable
  'app.product_details': ProductDetailsTable
  'app.tx_outbox': TxOutboxTable
  'app.tx_attempts': TxAttemptsTable
  'app.signer_nonces': SignerNoncesTable
  'app.faucet_grants': FaucetGrantsTable
  'app.webhook_events': WebhookEventsTable
  'app.idempotent_requests': IdempotentRequestsTable
  'app.usage_ledger': UsageLedgerTable
  'app.billing_accounts': BillingAccountsTable
  'app.knowledge_chunks': KnowledgeChunksTable
  'app.conversations': ConversationsTable
  'app.memory_messages': MemoryMessagesTable
  'app.usage_line_products': UsageLineProductsTable
  'app.settlement_batches': SettlementBatchesTable
}
