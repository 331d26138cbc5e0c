/**
 * Nonces of the server account, assigned under the row lock of app.signer_nonces, inside the
 * transaction that also stores the signed transaction: a nonce is never handed out twice, and
 * one handed out is never lost (it is stored with the transaction that uses it, or not at all).
 */
import type { Transaction } from 'kysely'
import type { Address } from 'viem'
import type { Database } from '../../db/index.js'

/**
 * Takes the next nonce of `address` inside `trx`. `chainPending` is the chain's pending
 * transaction count (read just before): it initialises the counter and moves it forward when
 * someone else sent with the same key (the `haithe dev` market simulator does).
 */
export async function takeNonce(trx: Transaction<Database>, chainId: number, address: Address, chainPending: number): Promise<number> {
  await trx
    .insertInto('app.signer_nonces')
    .values({ chain_id: chainId, address, next_nonce: String(chainPending) })
    .onConflict((oc) => oc.columns(['chain_id', 'address']).doNothing())
    .execute()
  const row = await trx
    .selectFrom('app.signer_nonces')
    .select('next_nonce')
    .where('chain_id', '=', chainId)
    .where('address', '=', address)
    .forUpdate()
    .executeTakeFirstOrThrow()
  const stored = BigInt(row.next_nonce)
  const nonce = stored > BigInt(chainPending) ? stored : BigInt(chainPending)
  await trx
    .updateTable('app.signer_nonces')
    .set({ next_nonce: (nonce + 1n).toString() })
    .where('chain_id', '=', chainId)
    .where('address', '=', address)
    .execute()
  return Number(nonce)
}
