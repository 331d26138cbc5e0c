/**
 * Queued rows become pending: gas is estimated (a revert there is a final failure, recorded
 * with its reason, and uses no nonce), then one database transaction claims the row, takes a
 * nonce, and stores the signed transaction; only after it commits is the transaction broadcast.
 */
import { sql } from 'kysely'
import type { Hex } from 'viem'
import { sendAttempt, signAttempt, storeAttempt, type Attempt } from './attempts.js'
import { currentFees, type Fees } from './fees.js'
import { takeNonce } from './nonces.js'
import { isRevert, revertReason } from './reverts.js'
import { ownRows, type SignerContext } from './signer-context.js'
import type { OutboxRow } from './views.js'

/** Rows taken per round. */
export const QUEUED_BATCH = 25

/** Gas with headroom: the estimate is for the state of the latest block, not of the one it lands in. */
export async function estimateGas(s: SignerContext, row: OutboxRow): Promise<bigint> {
  const estimate = await s.client.estimateGas({ account: s.from, to: row.to_address as Hex, data: row.data as Hex, value: BigInt(row.value) })
  return (estimate * 6n) / 5n
}

/** Records a final failure of a row that holds no nonce (or one that someone else's transaction used). */
export async function failUnsent(s: SignerContext, row: OutboxRow, error: string, from: 'queued' | 'pending'): Promise<void> {
  const result = await s.db
    .updateTable('app.tx_outbox')
    .set({ status: 'failed', error, updated_at: sql<Date>`now()` })
    .where('id', '=', row.id)
    .where('status', '=', from)
    .executeTakeFirst()
  if (result.numUpdatedRows === 0n) return
  s.metrics.transactions.inc({ kind: row.kind, outcome: 'failed' })
  s.logger.warn({ outboxId: row.id, kind: row.kind, error }, 'outbox: failed')
}

/** Sends up to QUEUED_BATCH queued rows, oldest first; returns how many it found. */
export async function sendQueued(s: SignerContext, signal: AbortSignal): Promise<number> {
  const rows = await ownRows(s).where('status', '=', 'queued').orderBy('id').limit(QUEUED_BATCH).execute()
  if (rows.length === 0) return 0
  const fees = await currentFees(s.client)
  let chainPending: number | undefined
  for (const row of rows) {
    if (signal.aborted) break
    let gas: bigint
    try {
      gas = await estimateGas(s, row)
    } catch (err) {
      if (!isRevert(err)) throw err
      await failUnsent(s, row, `reverts at gas estimation: ${revertReason(err)}`, 'queued')
      continue
    }
    chainPending ??= await s.client.getTransactionCount({ address: s.from, blockTag: 'pending' })
    const attempt = await claimAndSign(s, row, gas, fees, chainPending)
    if (attempt) await sendAttempt(s, row, attempt)
  }
  return rows.length
}

/** Claims a queued row, takes its nonce and stores its signed transaction, in one database transaction. */
async function claimAndSign(s: SignerContext, row: OutboxRow, gas: bigint, fees: Fees, chainPending: number): Promise<Attempt | undefined> {
  return s.db.transaction().execute(async (trx) => {
    const claimed = await trx.selectFrom('app.tx_outbox').select('status').where('id', '=', row.id).forUpdate().executeTakeFirst()
    if (claimed?.status !== 'queued') return undefined
    const nonce = await takeNonce(trx, s.chainId, s.from, chainPending)
    const attempt = await signAttempt(s, row, nonce, gas, fees)
    await storeAttempt(trx, row, attempt, fees, { status: 'pending', gasLimit: gas })
    return attempt
  })
}
