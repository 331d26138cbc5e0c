/**
 * One writer per chain: indexer processes sharing a PostgreSQL database elect a leader with a
 * session advisory lock (src/db's leader election) keyed by a fixed class and the chain id.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely'
import { acquireLeadership as acquireLock, holdsLeaderLock as holdsLock, type Database, type Leadership } from '../../src/db/index.js'

/** Advisory lock keys: a fixed class ("HAIT") and the chain id. */
const LOCK_CLASS = 0x48414954

export type { Leadership }

export class LeadershipLostError extends Error {
  override name = 'LeadershipLostError'
}

export function acquireLeadership(
  db: Kysely<Database>,
  options: { kind: 'postgres' | 'pglite'; chainId: number; pollMs?: number; signal: AbortSignal; onWaiting?: () => void },
): Leadership {
  return acquireLock(db, { ...options, lockClass: LOCK_CLASS, key: options.chainId })
}

/**
 * Fencing, inside a commit: fails unless session `pid` still holds the chain's lock. A leader whose
 * lock session died (server restart, idle timeout) must not write beside the new leader.
 */
export async function assertLeader(trx: Transaction<Database>, chainId: number, pid: number): Promise<void> {
  const { rows } = await sql<{ held: boolean }>`select ${holdsLeaderLock(chainId, pid)} as held`.execute(trx)
  if (!rows[0]?.held) throw new LeadershipLostError(`lost the indexer lock for chain ${chainId}: another process may lead now; stopping`)
}

/** SQL condition: session `pid` holds the chain's lock (for a statement that only the leader may run). */
export function holdsLeaderLock(chainId: number, pid: number): RawBuilder<boolean> {
  return holdsLock({ lockClass: LOCK_CLASS, key: chainId }, pid)
}
