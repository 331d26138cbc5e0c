/**
 * The transaction outbox: every transaction the server sends is a row of app.tx_outbox,
 * keyed by an idempotency key, so a request retried or a process restarted never sends it twice.
 */
import type { Kysely, Transaction } from 'kysely'
import type { Address, Hex } from 'viem'
import type { Database, OutboxStatus } from '../../db/index.js'

export interface OutboxRequest {
  /** Same key, same transaction: a second enqueue returns the first row. */
  idempotencyKey: string
  /** What it is for, e.g. `faucet`, `register-creator`, `webhook-top-up` (shown by GET /tx/{id}). */
  kind: string
  to: Address
  data: Hex
  value?: bigint
  /** The wallet the transaction is sent for, if any. */
  requestedBy?: Address
}

export interface OutboxEntry {
  id: string
  kind: string
  status: OutboxStatus
  to: Address
  nonce: number | null
  txHash: Hex | null
  blockNumber: number | null
  attempts: number
  error: string | null
  requestedBy: Address | null
  createdAt: Date
  updatedAt: Date
}

export interface Outbox {
  /**
   * Records a transaction to send (status `queued`), inside `trx` when given so it commits with
   * the caller's own rows. Idempotent on `idempotencyKey`.
   */
  enqueue(request: OutboxRequest, trx?: Transaction<Database> | Kysely<Database>): Promise<OutboxEntry>
  get(id: string): Promise<OutboxEntry | undefined>
  /** Resolves when the entry is `confirmed` or `failed` (or rejects after `timeoutMs`). */
  settled(id: string, timeoutMs?: number): Promise<OutboxEntry>
  /**
   * Signs, broadcasts and tracks queued transactions until `signal` aborts: only while this
   * process holds the signer's advisory lock (one signer leader).
   */
  run(signal: AbortSignal): Promise<void>
}
