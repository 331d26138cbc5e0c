/**
 * The read side's views (src/read/views.ts) as protobuf messages, field by field: the names are
 * the same (ts-proto keeps snake_case), a JSON `null` becomes an unset optional field. Written
 * out in full so that a view gaining, losing or retyping a field fails the typecheck here
 * instead of silently dropping it from the gRPC API.
 */
import type {
  CreatorView, EventView, IndexerStatusView, LeaderboardEntry as LeaderboardEntryView, MarketStatsView, OrganizationView, Page,
  PaymentView, ProductStatsView, ProductView, SeriesPoint as SeriesPointView, TransactionView, TransferView, WalletView,
} from '../read/index.js'
import type {
  Creator, Event, IndexerStatus, LeaderboardEntry, MarketStats, Organization, Payment, Product, ProductStats, SeriesPoint,
  Transaction, Transfer, Wallet,
} from './gen/haithe/v1/common.js'

const unset = <T>(value: T | null): T | undefined => (value === null ? undefined : value)

export function organizationMessage(v: OrganizationView): Organization {
  return {
    address: v.address, index: v.index, owner: v.owner, name: v.name, balance: v.balance, deposited: v.deposited, spent: v.spent,
    calls: v.calls, enabled_product_count: v.enabled_product_count, created_block: v.created_block, created_tx: v.created_tx,
    created_at: v.created_at,
  }
}

export function creatorMessage(v: CreatorView): Creator {
  return {
    address: v.address, token_id: v.token_id, uri: v.uri, revenue: v.revenue, calls: v.calls, withdrawn: v.withdrawn,
    claimable: v.claimable, registered_block: v.registered_block, registered_tx: v.registered_tx, registered_at: v.registered_at,
  }
}

export function productMessage(v: ProductView): Product {
  return {
    address: v.address, index: v.index, creator: v.creator, creator_id: v.creator_id, name: v.name, category: v.category, uri: v.uri,
    price: v.price, enabled_count: v.enabled_count, calls: v.calls, revenue: v.revenue, created_block: v.created_block,
    created_tx: v.created_tx, created_at: v.created_at,
  }
}

export function paymentMessage(v: PaymentView): Payment {
  return {
    tx_hash: v.tx_hash, log_index: v.log_index, block_number: v.block_number, block_time: v.block_time, kind: v.kind,
    organization: unset(v.organization), creator: unset(v.creator), creator_id: unset(v.creator_id), product: unset(v.product),
    amount: v.amount, calls: unset(v.calls), batch_id: unset(v.batch_id), account: unset(v.account),
  }
}

export function transferMessage(v: TransferView): Transfer {
  return { tx_hash: v.tx_hash, log_index: v.log_index, block_number: v.block_number, block_time: v.block_time, from: v.from, to: v.to, amount: v.amount }
}

export function seriesPointMessage(v: SeriesPointView): SeriesPoint {
  return { period: v.period, amount: v.amount, calls: v.calls }
}

export function leaderboardEntryMessage(v: LeaderboardEntryView): LeaderboardEntry {
  return { rank: v.rank, address: v.address, label: v.label, revenue: v.revenue, calls: v.calls }
}

export function marketStatsMessage(v: MarketStatsView): MarketStats {
  return {
    organizations: v.organizations, creators: v.creators, products: v.products, calls: v.calls, volume: v.volume,
    volume_24h: v.volume_24h, calls_24h: v.calls_24h,
  }
}

export function transactionMessage(v: TransactionView): Transaction {
  return {
    hash: v.hash, block_number: v.block_number, block_time: v.block_time, payments: v.payments.map(paymentMessage),
    transfers: v.transfers.map(transferMessage), organizations_created: v.organizations_created, products_created: v.products_created,
    creators_registered: v.creators_registered,
  }
}

export function walletMessage(v: WalletView): Wallet {
  return {
    address: v.address, balance: v.balance, organizations: v.organizations.map(organizationMessage),
    creator: v.creator === null ? undefined : creatorMessage(v.creator), recent_transfers: v.recent_transfers.map(transferMessage),
  }
}

export function productStatsMessage(v: ProductStatsView): ProductStats {
  return { product: productMessage(v.product), revenue_24h: v.revenue_24h, calls_24h: v.calls_24h, series: v.series.map(seriesPointMessage) }
}

export function indexerStatusMessage(v: IndexerStatusView): IndexerStatus {
  return {
    chain_id: v.chain_id, role: v.role, head: unset(v.head), indexed: unset(v.indexed), finalized: unset(v.finalized), lag: unset(v.lag),
    events_per_second: v.events_per_second, rpc_healthy: v.rpc_healthy, ready: v.ready, error: unset(v.error), updated_at: unset(v.updated_at),
  }
}

export function eventMessage(v: EventView): Event {
  return {
    kind: v.kind, block_number: v.block_number, log_index: v.log_index, tx_hash: v.tx_hash, block_time: v.block_time, amount: v.amount,
    organization: unset(v.organization), creator: unset(v.creator), product: unset(v.product), account: unset(v.account),
    from: unset(v.from), to: unset(v.to), calls: unset(v.calls), batch_id: unset(v.batch_id),
  }
}

/** A page of the read side as `{ items, next_cursor }`, the cursor empty on the last page. */
export function pageMessage<V, M>(page: Page<V>, item: (view: V) => M): { items: M[]; next_cursor: string } {
  return { items: page.items.map(item), next_cursor: page.next_cursor ?? '' }
}
