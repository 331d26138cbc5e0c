/**
 * What an organization can still spend: the indexed on-chain balance minus what it owes and has
 * not settled (open reservations and charged lines whose batch the index has not seen settle).
 *
 * Settled lines are not subtracted: their amounts already left the on-chain balance. Between a
 * settlement being mined and both the indexer lowering chain.organizations.balance and the batch
 * being marked settled on its lines, there is a window where the balance is already lower while
 * the lines still count as unsettled: their amount is subtracted twice. That only under-reports
 * what is available, briefly (never lets an organization overspend), which is acceptable.
 */
import { sql, type Kysely } from 'kysely'
import type { Database } from '../../db/index.js'

type Db = Kysely<Database>

/** chain.organizations.balance as indexed (0 when the index does not know the organization yet). */
export async function indexedBalance(db: Db, chainId: number, organization: string): Promise<bigint> {
  const row = await db
    .selectFrom('chain.organizations')
    .select('balance')
    .where('chain_id', '=', chainId)
    .where('address', '=', organization)
    .executeTakeFirst()
  return row ? BigInt(row.balance) : 0n
}

/** Σ amount of the organization's reserved lines and charged lines not settled yet. */
export async function owedAmount(db: Db, chainId: number, organization: string): Promise<bigint> {
  const row = await db
    .selectFrom('app.usage_ledger')
    .select(sql<string>`coalesce(sum(amount), 0)::text`.as('owed'))
    .where('chain_id', '=', chainId)
    .where('organization', '=', organization)
    // Reserved lines are never settled: this is "reserved, or charged and not settled" (the
    // usage_ledger_unsettled index holds every line not settled; see migration 0010).
    .where('settled_at', 'is', null)
    .where('status', '<>', 'released')
    .executeTakeFirstOrThrow()
  return BigInt(row.owed)
}

/** Σ amount of the key's reserved and charged lines created since `since` (the start of the UTC month). */
export async function keySpentSince(db: Db, apiKeyId: string, since: Date): Promise<bigint> {
  const row = await db
    .selectFrom('app.usage_ledger')
    .select(sql<string>`coalesce(sum(amount), 0)::text`.as('spent'))
    .where('api_key_id', '=', apiKeyId)
    .where('created_at', '>=', since)
    .where('status', 'in', ['reserved', 'charged'])
    .executeTakeFirstOrThrow()
  return BigInt(row.spent)
}

/** The start of `now`'s month, UTC. */
export function startOfUtcMonth(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))
}
