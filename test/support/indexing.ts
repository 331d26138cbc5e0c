/**
 * The indexer's ground truth: a fresh re-index of the final chain into an empty database.
 * Tests compare every derived table of the index under test with it.
 */
import { sql, type Kysely } from 'kysely'
import { pino } from 'pino'
import { createIndexer, type Indexer, type IndexerTuning } from '../../indexer/index.js'
import type { ChainConfig } from '../../src/config/index.js'
import type { Database } from '../../src/db/index.js'
import { createMetricsRegistry } from '../../src/obs/index.js'
import { createTestDatabase, type TestDatabase } from './database.js'

/** Every table the indexer derives from the chain (checkpoints, blocks, the journal and indexer_status are bookkeeping). */
export const derivedTables = [
  'organizations', 'creators', 'products', 'product_enablements', 'payments', 'token_transfers', 'token_balances',
  'creator_revenue_daily', 'product_stats_daily', 'creator_revenue_hourly', 'product_stats_hourly', 'org_spend_daily',
  'market_daily', 'market_hourly', 'market_totals',
] as const

/** All rows of every derived table of `chainId`, in primary-key order, as plain JSON. */
export async function snapshotIndex(db: Kysely<Database>, chainId: number): Promise<Record<string, unknown[]>> {
  const snapshot: Record<string, unknown[]> = {}
  for (const table of derivedTables) {
    const { rows } = await sql<Record<string, unknown>>`
      select (select jsonb_object_agg(e.key, case jsonb_typeof(e.value) when 'number' then to_jsonb(e.value #>> '{}') else e.value end)
              from jsonb_each(to_jsonb(t)) e) as row
      from ${sql.table(`chain.${table}`)} t where chain_id = ${chainId}
      order by ${sql.raw('1')}`.execute(db)
    snapshot[table] = rows.map((r) => r.row as Record<string, unknown>).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
  }
  return snapshot
}

/** The names of the chain schema's indexes, sorted, and the definitions still waiting to be built. */
export async function chainIndexes(db: Kysely<Database>): Promise<{ names: string[]; deferred: number }> {
  // A primary key must come back as the table's primary key, not as a mere unique index.
  const { rows } = await sql<{ name: string }>`
    select c.relname || case when i.indisprimary then ' (primary key)' else '' end as name
    from pg_index i join pg_class c on c.oid = i.indexrelid
    where c.relnamespace = 'chain'::regnamespace order by c.relname`.execute(db)
  const deferred = await db.selectFrom('chain.deferred_indexes').select('name').execute()
  return { names: rows.map((r) => r.name), deferred: deferred.length }
}

export interface RunningIndexer {
  indexer: Indexer
  /** Resolves when the indexer has applied every block up to `block` (default: the node's head). */
  caughtUp(block?: number, timeoutMs?: number): Promise<void>
  stop(): Promise<void>
  /** Rejects if the indexer stopped on an error. */
  done: Promise<void>
}

export function runIndexer(db: Kysely<Database>, kind: 'postgres' | 'pglite', chain: ChainConfig, tuning: Partial<IndexerTuning> = {}): RunningIndexer {
  const controller = new AbortController()
  const indexer = createIndexer({
    db, kind, chain, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), metrics: createMetricsRegistry(),
    signal: controller.signal, tuning: { concurrency: 2, initialBlocks: 50, batchEvents: 2_000, rpcTimeoutMs: 5_000, ...tuning },
  })
  const done = indexer.run()
  done.catch(() => {})
  const headOf = async () => {
    const response = await fetch(chain.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] }) })
    return Number.parseInt(((await response.json()) as { result: string }).result, 16)
  }
  return {
    indexer,
    done,
    async caughtUp(block, timeoutMs = 60_000) {
      const target = block ?? (await headOf())
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const status = indexer.status()
        if (status.role === 'failed') await done
        if (status.indexed !== null && status.indexed >= target && status.role === 'realtime') return
        if (Date.now() > deadline) throw new Error(`indexer did not reach block ${target} in ${timeoutMs} ms: ${JSON.stringify(status)}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    async stop() {
      controller.abort()
      await done.catch(() => {})
    },
  }
}

/** Re-indexes the chain as it is now into an empty database and returns its snapshot. */
export async function groundTruth(chain: ChainConfig): Promise<Record<string, unknown[]>> {
  const database: TestDatabase = await createTestDatabase()
  const running = runIndexer(database.db, database.kind, chain)
  try {
    await running.caughtUp()
    return await snapshotIndex(database.db, chain.chainId)
  } finally {
    await running.stop()
    await database.cleanup()
  }
}
