/**
 * Fees of a server transaction: EIP-1559 where the chain has a base fee, a legacy gas price
 * where it has not; a replacement pays at least 12.5% more of each (geth and anvil ask ≥10%).
 */
import { Eip1559FeesNotSupportedError, parseTransaction, type Hex } from 'viem'
import type { ChainPublicClient } from '../../chain/index.js'

export type Fees =
  | { type: 'eip1559'; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }
  | { type: 'legacy'; gasPrice: bigint }

export async function currentFees(client: ChainPublicClient): Promise<Fees> {
  try {
    const fees = await client.estimateFeesPerGas()
    return { type: 'eip1559', maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas }
  } catch (err) {
    if (!(err instanceof Eip1559FeesNotSupportedError)) throw err
    return { type: 'legacy', gasPrice: await client.getGasPrice() }
  }
}

/** `value` plus 12.5%, rounded up, and at least one wei more. */
const bump = (value: bigint) => value + (value + 7n) / 8n + (value === 0n ? 1n : 0n)
const max = (a: bigint, b: bigint) => (a > b ? a : b)

/** The fees of a replacement of a transaction that paid `previous`: ≥12.5% more, and no less than the market now. */
export function replacementFees(previous: Fees, now: Fees): Fees {
  if (previous.type === 'legacy') {
    const market = now.type === 'legacy' ? now.gasPrice : now.maxFeePerGas
    return { type: 'legacy', gasPrice: max(bump(previous.gasPrice), market) }
  }
  const maxPriorityFeePerGas = max(bump(previous.maxPriorityFeePerGas), now.type === 'eip1559' ? now.maxPriorityFeePerGas : 0n)
  const maxFeePerGas = max(max(bump(previous.maxFeePerGas), now.type === 'eip1559' ? now.maxFeePerGas : now.gasPrice), maxPriorityFeePerGas)
  return { type: 'eip1559', maxFeePerGas, maxPriorityFeePerGas }
}

/** The fees a signed transaction pays. */
export function feesOfRaw(raw: Hex): Fees {
  const tx = parseTransaction(raw)
  if (tx.type === 'eip1559') return { type: 'eip1559', maxFeePerGas: tx.maxFeePerGas!, maxPriorityFeePerGas: tx.maxPriorityFeePerGas! }
  return { type: 'legacy', gasPrice: tx.gasPrice! }
}

/** app.tx_attempts's fee columns (a legacy price is both). */
export function feeColumns(fees: Fees): { max_fee_per_gas: string; max_priority_fee_per_gas: string } {
  return fees.type === 'eip1559'
    ? { max_fee_per_gas: fees.maxFeePerGas.toString(), max_priority_fee_per_gas: fees.maxPriorityFeePerGas.toString() }
    : { max_fee_per_gas: fees.gasPrice.toString(), max_priority_fee_per_gas: fees.gasPrice.toString() }
}
