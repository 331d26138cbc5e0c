/**
 * Leader election over a PostgreSQL session advisory lock, held on a dedicated connection for as
 * long as the leader runs: when the leader dies its session ends, the lock is freed, and a standby
 * takes over. Embedded PGlite belongs to one process, which always leads. Used by the indexer (one
 * writer per chain) and the outbox signer (one signer per chain); each has its own lock class.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely'
import { PGliteAdapter } from './pglite-dialect.js'
import type { Database } from './types.js'

/** The two int4 halves of an advisory lock key: what it is for, and for which (chain id). */
export interface AdvisoryLockKey {
  lockClass: number
  key: number
}

export interface Leadership {
  /** Resolves when this process leads; waits (polling) while another one does. */
  acquired: Promise<void>
  /** Backend pid of the session holding the lock, once acquired (undefined on PGlite). */
  holderPid(): number | undefined
  release(): Promise<void>
}

/** Which engine a kysely instance runs on. */
export function databaseKindOf(db: Kysely<Database>): 'postgres' | 'pglite' {
  return db.getExecutor().adapter instanceof PGliteAdapter ? 'pglite' : 'postgres'
}

export function acquireLeadership(
  db: Kysely<Database>,
  options: AdvisoryLockKey & { kind: 'postgres' | 'pglite'; pollMs?: number; signal: AbortSignal; onWaiting?: () => void },
): Leadership {
  const { lockClass, key } = options
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
        const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${lockClass}, ${key}) as locked`.execute(connection)
        if (rows[0]?.locked) break
        if (!warned) options.onWaiting?.()
        warned = true
        if (options.signal.aborted) throw options.signal.reason
        await new Promise((r) => setTimeout(r, options.pollMs ?? 1000))
      }
      holder = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(connection)).rows[0]!.pid
      acquiredResolve()
      await sessionDone
      await sql`select pg_advisory_unlock(${lockClass}, ${key})`.execute(connection)
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

/** SQL condition: session `pid` holds the lock (for a statement that only the leader may run). */
export function holdsLeaderLock(lock: AdvisoryLockKey, pid: number): RawBuilder<boolean> {
  return sql<boolean>`exists (
    select 1 from pg_locks where locktype = 'advisory' and classid = ${lock.lockClass} and objid = ${lock.key}
      and objsubid = 2 and pid = ${pid} and granted)`
}
