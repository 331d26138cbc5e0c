/**
 * A backfill into an empty database builds the secondary indexes of the append-only tables once,
 * at its end, instead of maintaining them row by row while it writes (as Ponder does): sorting a
 * million rows once costs less than a million random index insertions. Primary keys stay, so a
 * duplicate still fails its batch. The definitions are kept in chain.deferred_indexes by the
 * transaction that drops the indexes, and each index is built in the transaction that forgets its
 * definition, so a crash at any moment leaves exactly the missing ones to build on the next start.
 */
import { sql, type Kysely } from 'kysely'
import type { Database } from '../../src/db/index.js'
import type { Logger } from '../../src/obs/index.js'

/** The tables a backfill appends to, a row per event. */
const APPEND_ONLY_TABLES = ['payments', 'token_transfers']

/**
 * Drops the append-only tables' secondary indexes if those tables are empty (a first backfill:
 * no reader depends on them yet, on any chain); returns how many were dropped.
 */
export async function deferIndexesIfEmpty(db: Kysely<Database>): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const { rows: [used] } = await sql<{ rows: boolean }>`
      select exists (select 1 from chain.payments) or exists (select 1 from chain.token_transfers) as rows`.execute(trx)
    if (used?.rows !== false) return 0
    const { rows } = await sql<{ name: string; definition: string }>`
      select i.indexname as name, i.indexdef as definition
      from pg_indexes i
      where i.schemaname = 'chain' and i.tablename = any(${APPEND_ONLY_TABLES})
        and not exists (select 1 from pg_constraint c where c.conname = i.indexname and c.connamespace = 'chain'::regnamespace)
      order by i.indexname`.execute(trx)
    if (rows.length === 0) return 0
    await trx.insertInto('chain.deferred_indexes').values(rows).onConflict((oc) => oc.column('name').doNothing()).execute()
    // Names from the catalog, quoted as identifiers: DDL takes no parameters.
    for (const row of rows) await sql`drop index ${sql.id('chain', row.name)}`.execute(trx)
    return rows.length
  })
}

/** Builds every deferred index, each with the forgetting of its definition; returns how many. */
export async function buildDeferredIndexes(db: Kysely<Database>, logger: Logger): Promise<number> {
  const deferred = await db.selectFrom('chain.deferred_indexes').select(['name', 'definition']).orderBy('name').execute()
  if (deferred.length === 0) return 0
  const started = performance.now()
  logger.info({ indexes: deferred.map((d) => d.name) }, `building ${deferred.length} indexes deferred during the backfill`)
  for (const { name, definition } of deferred) {
    await db.transaction().execute(async (trx) => {
      // The definition is PostgreSQL's own (pg_indexes.indexdef), read back from our table.
      await sql.raw(definition.replace(/^CREATE (UNIQUE )?INDEX /, 'CREATE $1INDEX IF NOT EXISTS ')).execute(trx)
      await trx.deleteFrom('chain.deferred_indexes').where('name', '=', name).execute()
    })
  }
  logger.info({ ms: Math.round(performance.now() - started) }, `built ${deferred.length} deferred indexes`)
  return deferred.length
}
