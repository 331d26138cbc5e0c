/**
 * Following pending batches: settled once the index holds the batch's UsageSettled (chain.payments,
 * kind `settlement`), failed when its transaction failed (the lines go back to be batched again).
 */
import { sql, type Kysely } from 'kysely'
import type { ChainConfig } from '../../config/index.js'
import type { Database } from '../../db/index.js'
import { publishSettlement } from '../events/index.js'
import type { Outbox } from '../signer/outbox.js'

export interface PendingBatch {
  batchId: string
  organization: string
  outboxId: string | null
  total: string
  lines: number
}

export type BatchOutcome =
  | { batchId: string; organization: string; outcome: 'settled'; txHash: string }
  | { batchId: string; organization: string; outcome: 'failed'; error: string | null }

export interface MarkDeps {
  db: Kysely<Database>
  chain: ChainConfig
  outbox: Pick<Outbox, 'get'>
}

export async function pendingBatches(deps: Pick<MarkDeps, 'db' | 'chain'>): Promise<PendingBatch[]> {
  const rows = await deps.db
    .selectFrom('app.settlement_batches')
    .select(['batch_id', 'organization', 'outbox_id', 'total', 'lines'])
    .where('chain_id', '=', deps.chain.chainId)
    .where('status', '=', 'pending')
    .orderBy('created_at')
    .execute()
  return rows.map((r) => ({ batchId: r.batch_id, organization: r.organization, outboxId: r.outbox_id === null ? null : String(r.outbox_id), total: r.total, lines: r.lines }))
}

/** Settles or fails one pending batch if its outcome is known; undefined while it is still on its way. */
export async function followBatch(deps: MarkDeps, batch: PendingBatch): Promise<BatchOutcome | undefined> {
  const { db, chain } = deps
  const payment = await db
    .selectFrom('chain.payments')
    .select(['tx_hash', 'block_time'])
    .where('chain_id', '=', chain.chainId)
    .where('kind', '=', 'settlement')
    .where('batch_id', '=', batch.batchId.toLowerCase())
    .orderBy('block_number')
    .executeTakeFirst()
  if (payment) {
    await db.transaction().execute(async (trx) => {
      const marked = await trx
        .updateTable('app.settlement_batches')
        .set({ status: 'settled', tx_hash: payment.tx_hash, settled_at: payment.block_time })
        .where('batch_id', '=', batch.batchId)
        .where('status', '=', 'pending')
        .executeTakeFirst()
      // Once per batch: another replica may have marked it first.
      if (marked.numUpdatedRows > 0n) {
        await publishSettlement(trx, {
          chainId: chain.chainId, organization: batch.organization, batchId: batch.batchId, txHash: payment.tx_hash, lines: batch.lines, amount: batch.total,
        })
      }
      // The lines are settled and no longer owed: their amounts leave the account's `owed`.
      await trx
        .with('settled', (q) => q.updateTable('app.usage_ledger')
          .set({ settled_tx: payment.tx_hash, settled_at: payment.block_time, updated_at: sql<Date>`now()` })
          .where('batch_id', '=', batch.batchId)
          .where('settled_at', 'is', null)
          .returning(['chain_id', 'organization', 'amount']))
        .with('totals', (q) => q.selectFrom('settled').select(['chain_id', 'organization', sql<string>`sum(amount)`.as('total')]).groupBy(['chain_id', 'organization']))
        .updateTable('app.billing_accounts as a')
        .from('totals')
        .set({ owed: sql`a.owed - totals.total` })
        .whereRef('a.chain_id', '=', 'totals.chain_id')
        .whereRef('a.organization', '=', 'totals.organization')
        .execute()
    })
    return { batchId: batch.batchId, organization: batch.organization, outcome: 'settled', txHash: payment.tx_hash }
  }

  const entry = batch.outboxId === null ? undefined : await deps.outbox.get(batch.outboxId)
  if (entry?.status !== 'failed') return undefined
  await db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('app.settlement_batches')
      .set({ status: 'failed' })
      .where('batch_id', '=', batch.batchId)
      .where('status', '=', 'pending')
      .executeTakeFirst()
    if (updated.numUpdatedRows === 0n) return
    await trx
      .updateTable('app.usage_ledger')
      .set({ batch_id: null, updated_at: sql<Date>`now()` })
      .where('batch_id', '=', batch.batchId)
      .where('settled_at', 'is', null)
      .execute()
  })
  return { batchId: batch.batchId, organization: batch.organization, outcome: 'failed', error: entry.error }
}
