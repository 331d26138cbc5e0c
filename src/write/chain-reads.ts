/**
 * Reading the chain and waiting for the index. The index (schema chain) is what routes answer
 * from; the chain itself is read only to refuse a transaction that would revert and to learn
 * where a transaction landed.
 */
import { BaseError, ContractFunctionRevertedError, TransactionNotFoundError, TransactionReceiptNotFoundError, type Hash, type TransactionReceipt } from 'viem'
import type { WriteContext } from './context.js'
import { WriteError } from './http/errors.js'

/** True when `err` is a contract revert (as opposed to the node failing to answer). */
export function isRevert(err: unknown): boolean {
  return err instanceof BaseError && err.walk((e) => e instanceof ContractFunctionRevertedError) instanceof ContractFunctionRevertedError
}

/** Runs a chain read; a node that fails to answer is 503 (the caller may retry), a revert is rethrown as it is. */
export async function readChain<T>(what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (err) {
    if (isRevert(err)) throw err
    throw new WriteError(503, `could not read ${what} from the chain node; try again`, 'chain_unavailable')
  }
}

/** The last block the index has applied for this chain, or null before its first checkpoint. */
export async function indexedBlock(w: Pick<WriteContext, 'db' | 'chain'>): Promise<number | null> {
  const row = await w.db.selectFrom('chain.checkpoints').select('block_number').where('chain_id', '=', w.chain.chainId).executeTakeFirst()
  return row ? Number(row.block_number) : null
}

/**
 * Calls `probe` until it returns something other than undefined or `timeoutMs` passes (then
 * undefined). Bounded waits for the index: the answer is 202 pending when it is not there in time.
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 150): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await probe()
    if (found !== undefined) return found
    const left = deadline - Date.now()
    if (left <= 0) return undefined
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, left)))
  }
}

/**
 * The receipt of a transaction a client says it sent, waiting up to `timeoutMs` for it to be
 * mined: the receipt, `'pending'` when it is not mined in time, `'unknown'` when the node does not
 * know the transaction at all.
 */
export async function awaitReceipt(w: Pick<WriteContext, 'publicClient'>, hash: Hash, timeoutMs: number): Promise<TransactionReceipt | 'pending' | 'unknown'> {
  const found = await pollUntil(async () => {
    const receipt = await readChain('the transaction receipt', () =>
      w.publicClient.getTransactionReceipt({ hash }).catch((err: unknown) => {
        if (err instanceof TransactionReceiptNotFoundError) return undefined
        throw err
      }))
    if (receipt) return receipt
    const known = await readChain('the transaction', () =>
      w.publicClient.getTransaction({ hash }).then(() => true, (err: unknown) => {
        if (err instanceof TransactionNotFoundError) return false
        throw err
      }))
    return known ? undefined : ('unknown' as const)
  }, timeoutMs)
  return found ?? 'pending'
}
