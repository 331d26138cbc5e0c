/**
 * Following pending rows to their outcome. The account's mined transaction count says which
 * nonces are used; only for those are the receipts of the row's attempts looked up: a receipt
 * makes the row mined (or failed, if it reverted), none means someone else used the nonce.
 * Unused nonces are re-sent after a restart, and replaced when stuck.
 */
import { sql } from 'kysely'
import type { Hex, TransactionReceipt } from 'viem'
import { findReceipt, receiptOf, sendAttempt } from './attempts.js'
import { currentFees, type Fees } from './fees.js'
import { replaceStuck, sendWithNewNonce } from './replace.js'
import { isRevert, revertReason } from './reverts.js'
import { ownRows, type SignerContext } from './signer-context.js'
import type { OutboxRow } from './views.js'

const TRACKED_BATCH = 500

export async function trackPending(s: SignerContext, signal: AbortSignal): Promise<void> {
  const rows = await ownRows(s).where('status', '=', 'pending').orderBy('nonce').limit(TRACKED_BATCH).execute()
  if (rows.length === 0) return
  const attempts = await s.db
    .selectFrom('app.tx_attempts')
    .select(['tx_hash', 'outbox_id', 'raw', sql<boolean>`created_at < now() - make_interval(secs => ${s.stuckAfterMs / 1000})`.as('stuck')])
    .where('outbox_id', 'in', rows.map((row) => row.id))
    .orderBy('created_at')
    .orderBy('tx_hash')
    .execute()
  const attemptsOf = new Map<string, typeof attempts>()
  for (const attempt of attempts) {
    const id = String(attempt.outbox_id)
    attemptsOf.set(id, [...(attemptsOf.get(id) ?? []), attempt])
  }
  // Read before the receipts: a nonce counted here as used has its receipt visible after.
  const used = await s.client.getTransactionCount({ address: s.from, blockTag: 'latest' })
  let market: Promise<Fees> | undefined
  const fees = () => (market ??= currentFees(s.client))

  for (const row of rows) {
    if (signal.aborted) return
    const mine = attemptsOf.get(row.id) ?? []
    const latest = mine.at(-1)
    if (!latest) continue
    if (Number(row.nonce) < used) {
      const receipt = await findReceipt(s, mine.map((attempt) => attempt.tx_hash))
      if (receipt) {
        s.usedElsewhereSince.delete(row.id)
        await recordReceipt(s, row, receipt)
        continue
      }
      const since = s.usedElsewhereSince.get(row.id) ?? Date.now()
      s.usedElsewhereSince.set(row.id, since)
      // Not at once: a load-balanced RPC may count a block whose receipts another node lacks yet.
      if (Date.now() - since >= s.takeoverGraceMs) {
        await sendWithNewNonce(s, row)
        s.usedElsewhereSince.delete(row.id)
      }
      continue
    }
    s.usedElsewhereSince.delete(row.id)
    if (!s.sentHere.has(latest.tx_hash)) await sendAttempt(s, row, { hash: latest.tx_hash, raw: latest.raw, nonce: Number(row.nonce) })
    else if (latest.stuck) await replaceStuck(s, row, latest, fees)
  }
}

/** A mined attempt: mined or confirmed when it succeeded, failed with the reason when it reverted. */
async function recordReceipt(s: SignerContext, row: OutboxRow, receipt: TransactionReceipt): Promise<void> {
  if (receipt.status === 'success') {
    const head = await s.client.getBlockNumber()
    const status = head - receipt.blockNumber + 1n >= BigInt(s.confirmations) ? 'confirmed' : 'mined'
    const result = await s.db
      .updateTable('app.tx_outbox')
      .set({ status, tx_hash: receipt.transactionHash, block_number: receipt.blockNumber.toString(), error: null, updated_at: sql<Date>`now()` })
      .where('id', '=', row.id)
      .where('status', '=', 'pending')
      .executeTakeFirst()
    if (result.numUpdatedRows === 0n) return
    s.logger.info({ outboxId: row.id, kind: row.kind, nonce: Number(row.nonce), txHash: receipt.transactionHash, block: Number(receipt.blockNumber) }, `outbox: ${status}`)
    if (status === 'confirmed') s.metrics.transactions.inc({ kind: row.kind, outcome: 'confirmed' })
    return
  }
  const error = `reverted on chain in block ${receipt.blockNumber}: ${await revertedBecause(s, row, receipt)}`
  const result = await s.db
    .updateTable('app.tx_outbox')
    .set({ status: 'failed', tx_hash: receipt.transactionHash, block_number: receipt.blockNumber.toString(), error, updated_at: sql<Date>`now()` })
    .where('id', '=', row.id)
    .where('status', 'in', ['pending', 'mined'])
    .executeTakeFirst()
  if (result.numUpdatedRows === 0n) return
  s.metrics.transactions.inc({ kind: row.kind, outcome: 'failed' })
  s.logger.warn({ outboxId: row.id, kind: row.kind, txHash: receipt.transactionHash, error }, 'outbox: failed')
}

/** Why a mined transaction reverted: out of gas, or the reason a replay on the state before its block gives. */
async function revertedBecause(s: SignerContext, row: OutboxRow, receipt: TransactionReceipt): Promise<string> {
  if (row.gas_limit !== null && receipt.gasUsed >= BigInt(row.gas_limit)) return `ran out of gas (limit ${row.gas_limit})`
  try {
    await s.client.call({ account: s.from, to: row.to_address as Hex, data: row.data as Hex, value: BigInt(row.value), blockNumber: receipt.blockNumber - 1n })
  } catch (err) {
    if (isRevert(err)) return revertReason(err)
  }
  return 'no reason could be recovered'
}

/** Mined rows with enough blocks on top become confirmed; one whose receipt vanished (a reorg) is pending again. */
export async function confirmMined(s: SignerContext): Promise<void> {
  const rows = await ownRows(s).where('status', '=', 'mined').orderBy('block_number').limit(TRACKED_BATCH).execute()
  if (rows.length === 0) return
  const head = await s.client.getBlockNumber()
  for (const row of rows) {
    if (head - BigInt(row.block_number!) + 1n < BigInt(s.confirmations)) continue
    const receipt = await receiptOf(s, row.tx_hash!)
    if (receipt && receipt.blockNumber === BigInt(row.block_number!) && receipt.status === 'success') {
      const result = await s.db.updateTable('app.tx_outbox').set({ status: 'confirmed', updated_at: sql<Date>`now()` }).where('id', '=', row.id).where('status', '=', 'mined').executeTakeFirst()
      if (result.numUpdatedRows === 0n) continue
      s.metrics.transactions.inc({ kind: row.kind, outcome: 'confirmed' })
      s.logger.info({ outboxId: row.id, kind: row.kind, txHash: row.tx_hash, block: Number(row.block_number) }, 'outbox: confirmed')
      continue
    }
    // Its block left the chain (a reorg): pending again, to be found in its new block or sent again.
    await s.db.updateTable('app.tx_outbox').set({ status: 'pending', block_number: null, updated_at: sql<Date>`now()` }).where('id', '=', row.id).where('status', '=', 'mined').execute()
    if (receipt) continue
    const hashes = await s.db.selectFrom('app.tx_attempts').select('tx_hash').where('outbox_id', '=', row.id).execute()
    for (const { tx_hash } of hashes) s.sentHere.delete(tx_hash)
    s.logger.warn({ outboxId: row.id, kind: row.kind, txHash: row.tx_hash }, 'outbox: its block left the chain (reorg); pending again')
  }
}
