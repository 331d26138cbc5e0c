/**
 * One writer per chain: indexer processes sharing a PostgreSQL database elect a leader with
 * a session advisory lock, held on a dedicated connection for as long as the leader runs.
 * When the leader dies its session ends, the lock is freed, and a standby takes over.
 * Embedded PGlite belongs to one process, which is always the leader.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely'
import type { Database } from '../../src/db/index.js'

/** Advisory lock keys: a fixed class ("HAIT") and the chain id. */
const LOCK_CLASS = 0x48414954

export class LeadershipLostError extends Error {
  override name = 'LeadershipLostError'
}

export interface Leadership {
  /** Resolves when this process leads; waits (polling) while another one does. */
  acquired: Promise<void>
  /** Backend pid of the session holding the lock, once acquired (undefined on PGlite). */
  holderPid(): number | undefined
  release(): Promise<void>
}

export function acquireLeadership(
  db: Kysely<Database>,
  options: { kind: 'postgres' | 'pglite'; chainId: number; pollMs?: number; signal: AbortSignal; onWaiting?: () => void },
): Leadership {
  if (options.kind === 'pglite') return { acquired: Promise.resolve(), holderPid: () => undefined, release: async () => {} }
  let holder: number | undefined

  let releaseSession!: () => void
  const sessionDone = new Promise<void>((resolve) => (releaseSession = resolve))
  let acquiredResolve!: () => void
  let acquiredReject!: (err: unknown) => void
  const acquired = new Promise<void>((resolve, reject) => {
    acquiredResolve = resolve
    acquiredReject = reject
  })

  const held = db
    .connection()
    .execute(async (connection) => {
      let warned = false
      for (;;) {
        const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${LOCK_CLASS}, ${options.chainId}) as locked`.execute(connection)
        if (rows[0]?.locked) break
        if (!warned) options.onWaiting?.()
        warned = true
        if (options.signal.aborted) throw options.signal.reason
        await new Promise((r) => setTimeout(r, options.pollMs ?? 1000))
      }
      holder = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(connection)).rows[0]!.pid
      acquiredResolve()
      await sessionDone
      await sql`select pg_advisory_unlock(${LOCK_CLASS}, ${options.chainId})`.execute(connection)
    })
    .catch((err: unknown) => acquiredReject(err))

  return {
    acquired,
    holderPid: () => holder,
    release: async () => {
      releaseSession()
      await held
    },
  }
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
  return sql<boolean>`exists (
    select 1 from pg_locks where locktype = 'advisory' and classid = ${LOCK_CLASS} and objid = ${chainId}
      and objsubid = 2 and pid = ${pid} and granted)`
}
