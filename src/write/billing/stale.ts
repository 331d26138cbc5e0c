/**
 * Reservations a call never closed — its gateway process died between reserving and charging —
 * would hold the organization's money forever. Once older than any call can run, they are
 * released (the caller was not knowingly served: the answer, if any, was never confirmed).
 */
import { sql, type Kysely } from 'kysely'
import type { Database } from '../../db/index.js'

/** Releases the chain's lines still reserved since before `reservedBefore`, giving their amounts back; returns how many. */
export async function releaseStaleReservations(db: Kysely<Database>, chainId: number, reservedBefore: Date): Promise<number> {
  const { rows } = await sql<{ lines: string | null }>`
    with stale as (
      update app.usage_ledger set status = 'released', updated_at = now()
      where chain_id = ${chainId} and status = 'reserved' and settled_at is null and created_at < ${reservedBefore}
      returning chain_id, organization, amount
    ), totals as (
      select chain_id, organization, sum(amount) as total, count(*) as lines from stale group by chain_id, organization
    ), accounts as (
      update app.billing_accounts a set owed = a.owed - totals.total
      from totals where a.chain_id = totals.chain_id and a.organization = totals.organization
    )
    select sum(lines)::text as lines from totals`.execute(db)
  return Number(rows[0]?.lines ?? 0)
}
