/**
 * Signing a pending row again: with the same nonce and higher fees when it is stuck (whichever
 * attempt is mined is the outcome), or with a new nonce when someone else's transaction used
 * its nonce (then none of its attempts can ever be mined).
 */
import { sendAttempt, signAttempt, storeAttempt, type Attempt } from './attempts.js'
import { currentFees, feesOfRaw, replacementFees, type Fees } from './fees.js'
import { takeNonce } from './nonces.js'
import { isRevert, revertReason } from './reverts.js'
import { estimateGas, failUnsent } from './send-queued.js'
import type { SignerContext } from './signer-context.js'
import type { OutboxRow } from './views.js'

export interface StoredAttempt {
  tx_hash: string
  raw: string
}

/** Replaces the row's latest attempt, unless another one was stored since (by another signer term). */
export async function replaceStuck(s: SignerContext, row: OutboxRow, latest: StoredAttempt, market: () => Promise<Fees>): Promise<void> {
  const fees = replacementFees(feesOfRaw(latest.raw as `0x${string}`), await market())
  const attempt = await s.db.transaction().execute(async (trx): Promise<Attempt | undefined> => {
    const current = await trx.selectFrom('app.tx_outbox').select(['status', 'tx_hash', 'nonce']).where('id', '=', row.id).forUpdate().executeTakeFirst()
    if (current?.status !== 'pending' || current.tx_hash !== latest.tx_hash || current.nonce !== row.nonce) return undefined
    const signed = await signAttempt(s, row, Number(row.nonce), BigInt(row.gas_limit!), fees)
    await storeAttempt(trx, row, signed, fees)
    return signed
  })
  if (!attempt) return
  s.metrics.replacements.inc()
  s.logger.info({ outboxId: row.id, kind: row.kind, nonce: attempt.nonce, txHash: attempt.hash, replaces: latest.tx_hash }, 'outbox: stuck; replaced with higher fees')
  await sendAttempt(s, row, attempt)
}

/**
 * The chain shows the row's nonce used and none of its attempts mined: another transaction from
 * this account took it. Estimated again (a revert now is a final failure), then signed with a
 * fresh nonce.
 */
export async function sendWithNewNonce(s: SignerContext, row: OutboxRow): Promise<void> {
  let gas: bigint
  try {
    gas = await estimateGas(s, row)
  } catch (err) {
    if (!isRevert(err)) throw err
    await failUnsent(s, row, `its nonce ${row.nonce} was used by another transaction of this account, and it now reverts at gas estimation: ${revertReason(err)}`, 'pending')
    return
  }
  const fees = await currentFees(s.client)
  const chainPending = await s.client.getTransactionCount({ address: s.from, blockTag: 'pending' })
  const attempt = await s.db.transaction().execute(async (trx): Promise<Attempt | undefined> => {
    const current = await trx.selectFrom('app.tx_outbox').select(['status', 'nonce']).where('id', '=', row.id).forUpdate().executeTakeFirst()
    if (current?.status !== 'pending' || current.nonce !== row.nonce) return undefined
    const nonce = await takeNonce(trx, s.chainId, s.from, chainPending)
    const signed = await signAttempt(s, row, nonce, gas, fees)
    await storeAttempt(trx, row, signed, fees, { gasLimit: gas })
    return signed
  })
  if (!attempt) return
  s.logger.warn(
    { outboxId: row.id, kind: row.kind, usedNonce: Number(row.nonce), nonce: attempt.nonce, txHash: attempt.hash },
    'outbox: another transaction of this account used this nonce; sending again with a new nonce',
  )
  await sendAttempt(s, row, attempt)
}
