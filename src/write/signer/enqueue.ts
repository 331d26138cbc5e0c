/** Recording a transaction to send: one row of app.tx_outbox per idempotency key. */
import type { Kysely, Transaction } from 'kysely'
import { isAddress, isHex, type Address } from 'viem'
import type { Database } from '../../db/index.js'
import type { OutboxEntry, OutboxRequest } from './outbox.js'
import { toEntry } from './views.js'

export interface Sender {
  chainId: number
  /** The server's account (lowercase). */
  from: Address
}

/**
 * Inserts the request as `queued`; a second request with the same key returns the first row
 * (whatever it asked for). Inside `trx` when given, so it commits with the caller's own rows.
 */
export async function enqueueTransaction(
  db: Transaction<Database> | Kysely<Database>, sender: Sender, request: OutboxRequest,
): Promise<OutboxEntry> {
  const { idempotencyKey, kind, to, data } = request
  // Programming errors of the caller (route inputs are validated before they get here).
  if (!idempotencyKey || idempotencyKey.length > 200) throw new TypeError('outbox: idempotencyKey must be 1 to 200 characters')
  if (!kind) throw new TypeError('outbox: kind is required')
  if (!isAddress(to, { strict: false })) throw new TypeError('outbox: `to` must be an address')
  if (!isHex(data)) throw new TypeError('outbox: `data` must be 0x-prefixed hex')
  if (request.value !== undefined && request.value < 0n) throw new TypeError('outbox: `value` must not be negative')

  const inserted = await db
    .insertInto('app.tx_outbox')
    .values({
      idempotency_key: idempotencyKey,
      chain_id: sender.chainId,
      kind,
      requested_by: request.requestedBy?.toLowerCase() ?? null,
      from_address: sender.from,
      to_address: to.toLowerCase(),
      data: data.toLowerCase(),
      value: (request.value ?? 0n).toString(),
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returningAll()
    .executeTakeFirst()
  if (inserted) return toEntry(inserted)
  // The key was taken (by an earlier request, or a concurrent one that has committed since).
  const existing = await db.selectFrom('app.tx_outbox').selectAll().where('idempotency_key', '=', idempotencyKey).executeTakeFirstOrThrow()
  return toEntry(existing)
}
