/**
 * Attempts: each signed version of an outbox transaction, stored in app.tx_attempts before it is
 * broadcast (so a restart can send the same bytes again, never a second transaction).
 */
import { TransactionReceiptNotFoundError, keccak256, type Address, type Hex, type TransactionReceipt } from 'viem'
import { sql, type Transaction } from 'kysely'
import type { Database } from '../../db/index.js'
import { broadcast } from './broadcast.js'
import { feeColumns, type Fees } from './fees.js'
import type { SignerContext } from './signer-context.js'
import type { OutboxRow } from './views.js'

export interface Attempt {
  hash: Hex
  raw: Hex
  nonce: number
}

export async function signAttempt(s: SignerContext, row: OutboxRow, nonce: number, gas: bigint, fees: Fees): Promise<Attempt> {
  const base = { chainId: s.chainId, nonce, to: row.to_address as Address, data: row.data as Hex, value: BigInt(row.value), gas }
  const raw =
    fees.type === 'eip1559'
      ? await s.account.signTransaction({ ...base, type: 'eip1559', maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas })
      : await s.account.signTransaction({ ...base, type: 'legacy', gasPrice: fees.gasPrice })
  return { hash: keccak256(raw), raw, nonce }
}

/** Stores a signed attempt and makes it the row's current one (inside the transaction that claimed the row). */
export async function storeAttempt(
  trx: Transaction<Database>, row: OutboxRow, attempt: Attempt, fees: Fees, extra: { status?: 'pending'; gasLimit?: bigint } = {},
): Promise<void> {
  await trx.insertInto('app.tx_attempts').values({ tx_hash: attempt.hash, outbox_id: row.id, raw: attempt.raw, ...feeColumns(fees) }).execute()
  await trx
    .updateTable('app.tx_outbox')
    .set((eb) => ({
      nonce: String(attempt.nonce),
      tx_hash: attempt.hash,
      attempts: eb('attempts', '+', 1),
      error: null,
      updated_at: sql<Date>`now()`,
      ...(extra.status ? { status: extra.status } : {}),
      ...(extra.gasLimit !== undefined ? { gas_limit: extra.gasLimit.toString() } : {}),
    }))
    .where('id', '=', row.id)
    .execute()
}

/** Broadcasts a stored attempt; what the node answered is only logged (the receipts decide). */
export async function sendAttempt(s: SignerContext, row: Pick<OutboxRow, 'id' | 'kind'>, attempt: { hash: string; raw: string; nonce: number }): Promise<void> {
  const outcome = await broadcast(s.client, attempt.raw as Hex)
  s.sentHere.add(attempt.hash)
  if (outcome === 'sent' || outcome === 'known') {
    await s.db.updateTable('app.tx_attempts').set({ broadcast_at: sql<Date>`now()` }).where('tx_hash', '=', attempt.hash).where('broadcast_at', 'is', null).execute()
  }
  const fields = { outboxId: row.id, kind: row.kind, nonce: attempt.nonce, txHash: attempt.hash }
  if (outcome === 'sent') s.logger.info(fields, 'outbox: sent')
  else s.logger.info({ ...fields, node: outcome }, `outbox: sent again (${outcome})`)
}

/** The receipt of whichever of `hashes` is mined, if any. */
export async function findReceipt(s: SignerContext, hashes: readonly string[]): Promise<TransactionReceipt | undefined> {
  for (const hash of hashes) {
    const receipt = await receiptOf(s, hash)
    if (receipt) return receipt
  }
  return undefined
}

export async function receiptOf(s: SignerContext, hash: string): Promise<TransactionReceipt | undefined> {
  try {
    return await s.client.getTransactionReceipt({ hash: hash as Hex })
  } catch (err) {
    if (err instanceof TransactionReceiptNotFoundError) return undefined
    throw err
  }
}
