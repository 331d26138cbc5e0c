/**
 * The indexer's status in chain.indexer_status, so that a read API in another process can report
 * it. Only the leader writes it, and every write is fenced on the leader's lock: a standby, or a
 * leader that lost its lock, leaves the current leader's row alone. Bookkeeping, not journaled,
 * and never part of a batch's transaction.
 */
import { sql, type Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../../src/db/index.js'
import type { IndexerRole, IndexerStatus } from '../indexer.js'
import { holdsLeaderLock } from './leader.js'

/** An indexer's status as its leader last recorded it. Block numbers fit in JS numbers. */
export type RecordedIndexerStatus = Omit<IndexerStatus, 'chainId' | 'error'> & {
  error: string | null
  /**
   * When it was recorded: a running leader records changes within a second and otherwise at
   * least every 5 seconds, so an older value means no leader is running (or it cannot write).
   */
  updatedAt: Date
}

/** The status the leading indexer of `chainId` last recorded; undefined when none ever ran on this database. */
export async function readIndexerStatus(db: Kysely<Database>, chainId: number): Promise<RecordedIndexerStatus | undefined> {
  const row = await db.selectFrom('chain.indexer_status').selectAll().where('chain_id', '=', chainId).executeTakeFirst()
  if (!row) return undefined
  const block = (value: string | null) => (value === null ? null : Number(value))
  return {
    role: row.role,
    head: block(row.head_block),
    indexed: block(row.indexed_block),
    finalized: block(row.finalized_block),
    eventsPerSecond: row.events_per_second,
    rpcHealthy: row.rpc_healthy,
    ready: row.ready,
    error: row.error,
    updatedAt: row.updated_at,
  }
}

/** One upsert of the status row; a no-op unless session `leaderPid` holds the chain's lock (PostgreSQL). */
export async function writeIndexerStatus(db: Kysely<Database>, status: IndexerStatus, leaderPid: number | undefined): Promise<void> {
  const fence = leaderPid === undefined ? sql<boolean>`true` : holdsLeaderLock(status.chainId, leaderPid)
  const orNull = (n: number | null) => (n === null ? null : String(n))
  await sql`
    insert into chain.indexer_status as s
      (chain_id, role, head_block, indexed_block, finalized_block, events_per_second, rpc_healthy, ready, error, updated_at)
    select ${status.chainId}::int, ${status.role}::text, ${orNull(status.head)}::int8, ${orNull(status.indexed)}::int8,
      ${orNull(status.finalized)}::int8, ${Math.min(status.eventsPerSecond, 2 ** 31 - 1)}::int, ${status.rpcHealthy}::boolean,
      ${status.ready}::boolean, ${status.error ?? null}::text, now()
    where ${fence}
    on conflict (chain_id) do update set
      role = excluded.role, head_block = excluded.head_block, indexed_block = excluded.indexed_block,
      finalized_block = excluded.finalized_block, events_per_second = excluded.events_per_second,
      rpc_healthy = excluded.rpc_healthy, ready = excluded.ready, error = excluded.error, updated_at = excluded.updated_at
  `.execute(db)
}

export interface StatusRecorder {
  /** From now on this process leads: records the status at once, then on each `changed`, and every `keepAliveMs` regardless. */
  lead(): void
  /**
   * The status changed: recorded at once if its role did, else at most once per interval (the
   * latest status, at the end of the interval at the latest). Never waits, never throws.
   */
  changed(): void
  /** Records the final status (after any write in flight) and stops recording. */
  close(): Promise<void>
}

/**
 * Records the indexer's status while this process leads. A failed write is logged as a warning
 * (at most once a minute while writes keep failing) and the next change tries again: recording
 * the status never stops indexing.
 */
export function createStatusRecorder(options: {
  db: Kysely<Database>
  logger: Logger
  /** The status to record, read at write time. */
  current: () => IndexerStatus
  leaderPid: () => number | undefined
  /** At most one write per interval, role changes aside (default 1 s). */
  intervalMs?: number
  /** A write at least this often while leading, even with nothing changed (default 5 s): readers judge liveness by updated_at. */
  keepAliveMs?: number
}): StatusRecorder {
  const intervalMs = options.intervalMs ?? 1_000
  const keepAliveMs = options.keepAliveMs ?? 5_000
  let keepAlive: ReturnType<typeof setInterval> | undefined
  let leading = false
  let closed = false
  let recordedRole: IndexerRole | undefined
  let lastWrite = 0
  let inFlight: Promise<void> = Promise.resolve()
  /** Writes queued or running. */
  let queued = 0
  /** Changed since the last write read the status. */
  let dirty = false
  let trailing: ReturnType<typeof setTimeout> | undefined
  let failing = false
  let lastWarning = 0

  const write = (): Promise<void> => {
    if (trailing) clearTimeout(trailing)
    trailing = undefined
    queued += 1
    inFlight = inFlight.then(async () => {
      const status = options.current()
      dirty = false
      lastWrite = Date.now()
      recordedRole = status.role
      try {
        await writeIndexerStatus(options.db, status, options.leaderPid())
        if (failing) options.logger.info('indexer: recording its status again')
        failing = false
      } catch (err) {
        if (!failing || Date.now() - lastWarning > 60_000) {
          lastWarning = Date.now()
          options.logger.warn({ err }, `indexer: could not record its status (${(err as Error).message}); indexing goes on`)
        }
        failing = true
      } finally {
        queued -= 1
        if (queued === 0 && dirty) schedule()
      }
    })
    return inFlight
  }

  /** The next write, at most once per interval; a write in flight schedules it when done. */
  function schedule(): void {
    if (closed || trailing || queued > 0) return
    const wait = lastWrite + intervalMs - Date.now()
    if (wait <= 0) {
      void write()
      return
    }
    trailing = setTimeout(() => void write(), wait)
    trailing.unref()
  }

  return {
    lead() {
      if (closed) return
      leading = true
      void write()
      // A step can take long (an RPC retrying with backoff): the row stays fresh meanwhile.
      keepAlive = setInterval(() => {
        if (!closed && queued === 0 && Date.now() - lastWrite >= keepAliveMs) void write()
      }, keepAliveMs / 2)
      keepAlive.unref()
    },
    changed() {
      if (!leading || closed) return
      if (options.current().role !== recordedRole) {
        void write()
        return
      }
      dirty = true
      schedule()
    },
    async close() {
      if (closed) return
      closed = true
      clearInterval(keepAlive)
      if (trailing) clearTimeout(trailing)
      trailing = undefined
      if (leading) await write()
      else await inFlight
    },
  }
}
