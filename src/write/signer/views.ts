/** Outbox rows as the rest of the code sees them (OutboxEntry), and as GET /api/v1/tx/{id} shows them. */
import type { Selectable } from 'kysely'
import type { Address, Hex } from 'viem'
import type { TxOutboxTable } from '../../db/index.js'
import type { OutboxEntry } from './outbox.js'

export type OutboxRow = Selectable<TxOutboxTable>

export function toEntry(row: OutboxRow): OutboxEntry {
  return {
    id: String(row.id),
    kind: row.kind,
    status: row.status,
    to: row.to_address as Address,
    nonce: row.nonce === null ? null : Number(row.nonce),
    txHash: row.tx_hash as Hex | null,
    blockNumber: row.block_number === null ? null : Number(row.block_number),
    attempts: row.attempts,
    error: row.error,
    requestedBy: row.requested_by as Address | null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

/** The JSON of GET /api/v1/tx/{id}: integer id, snake_case fields. */
export function entryJson(entry: OutboxEntry) {
  return {
    id: Number(entry.id),
    kind: entry.kind,
    status: entry.status,
    tx_hash: entry.txHash,
    nonce: entry.nonce,
    block_number: entry.blockNumber,
    attempts: entry.attempts,
    error: entry.error,
    created_at: entry.createdAt.toISOString(),
    updated_at: entry.updatedAt.toISOString(),
  }
}
