/**
 * What the market routes answer: v1's field names (`wallet_address`, `price_per_call`, `id` =
 * orchestrator index + 1) plus the index's figures, amounts and int8 counts as decimal strings,
 * addresses lowercase, times ISO 8601.
 */
import type { Selectable } from 'kysely'
import type { CreatorsTable, ProductsTable } from '../../db/index.js'
import type { OutboxEntry } from '../signer/outbox.js'

export interface CreatorView {
  wallet_address: string
  token_id: string
  uri: string
  revenue: string
  calls: string
  withdrawn: string
  claimable: string
  registered_block: number
  registered_tx: string
  created_at: string
  /** Only on GET /creator/{address} (read from the identity contract). */
  pub_key?: string | null
}

export function creatorView(row: Selectable<CreatorsTable>): CreatorView {
  return {
    wallet_address: row.address,
    token_id: row.token_id,
    uri: row.uri,
    revenue: row.revenue,
    calls: row.calls,
    withdrawn: row.withdrawn,
    claimable: row.claimable,
    registered_block: Number(row.registered_block),
    registered_tx: row.registered_tx,
    created_at: row.registered_at.toISOString(),
  }
}

export type ProductRow = Selectable<ProductsTable> & { description: string | null; photo_url: string | null }

export interface ProductView {
  id: number
  address: string
  creator: string
  creator_id: string
  name: string
  category: string
  uri: string
  price_per_call: string
  description: string | null
  photo_url: string | null
  enabled_count: number
  calls: string
  revenue: string
  created_block: number
  created_tx: string
  created_at: string
}

export function productView(row: ProductRow): ProductView {
  return {
    id: Number(row.index) + 1,
    address: row.address,
    creator: row.creator,
    creator_id: row.creator_id,
    name: row.name,
    category: row.category,
    uri: row.uri,
    price_per_call: row.price,
    description: row.description,
    photo_url: row.photo_url,
    enabled_count: row.enabled_count,
    calls: row.calls,
    revenue: row.revenue,
    created_block: Number(row.created_block),
    created_tx: row.created_tx,
    created_at: row.created_at.toISOString(),
  }
}

export interface TransactionView {
  id: number
  kind: string
  status: OutboxEntry['status']
  tx_hash: string | null
  block_number: number | null
  error: string | null
  /** Where to follow it. */
  poll: string
}

/** A server transaction of the outbox, as the routes that enqueue one answer it. */
export function transactionView(entry: OutboxEntry): TransactionView {
  return {
    id: Number(entry.id),
    kind: entry.kind,
    status: entry.status,
    tx_hash: entry.txHash,
    block_number: entry.blockNumber,
    error: entry.error,
    poll: `/api/v1/tx/${entry.id}`,
  }
}
