/**
 * A backfill into an empty database builds the indexes of the append-only tables once, at its
 * end, instead of maintaining them row by row while it writes (as Ponder does): sorting a million
 * rows once costs less than a million random index insertions. That includes the primary keys:
 * keyed by transaction hash, each row went to a random page of the key, which cost PostgreSQL more
 * than the rest of the insert. Nothing is lost meanwhile: every batch is committed with its
 * checkpoint, so no row is written twice, and a duplicate (a bug) would fail the key's build
 * loudly. The definitions are kept in chain.deferred_indexes by the transaction that drops the
 * indexes, and each is built in the transaction that forgets its definition, so a crash at any
 * moment leaves exactly the missing ones to build on the next start.
 */
import { sql, type Kysely } from 'kysely'
import type { Database } from '../../src/db/index.js'
import type { Logger } from '../../src/obs/index.js'

/** The tables a backfill appends to, a row per event. */
const APPEND_ONLY_TABLES = ['payments', 'token_transfers']

/**
 * Drops the append-only tables' indexes and primary keys if those tables are empty (a first
 * backfill: no reader depends on them yet, on any chain); returns how many were dropped.
 */
export async function deferIndexesIfEmpty(db: Kysely<Database>): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const { rows: [used] } = await sql<{ rows: boolean }>`
      select exists (select 1 from chain.payments) or exists (select 1 from chain.token_transfers) as rows`.execute(trx)
    if (used?.rows !== false) return 0
    // A primary key is kept as the ALTER TABLE that adds it back; an index as its CREATE INDEX.
    const { rows } = await sql<{ name: string; definition: string; table: string; constraint: boolean }>`
      select i.indexname as name, i.tablename as table, c.oid is not null as constraint,
        case when c.oid is null then i.indexdef
          else format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', 'chain', i.tablename, c.conname, pg_get_constraintdef(c.oid)) end as definition
      from pg_indexes i
      left join pg_constraint c on c.conname = i.indexname and c.connamespace = 'chain'::regnamespace and c.contype = 'p'
      where i.schemaname = 'chain' and i.tablename = any(${APPEND_ONLY_TABLES})
      order by i.indexname`.execute(trx)
    if (rows.length === 0) return 0
    await trx.insertInto('chain.deferred_indexes').values(rows.map(({ name, definition }) => ({ name, definition }))).onConflict((oc) => oc.column('name').doNothing()).execute()
    // Names from the catalog, quoted as identifiers: DDL takes no parameters.
    for (const row of rows) {
      if (row.constraint) await sql`alter table ${sql.id('chain', row.table)} drop constraint ${sql.id(row.name)}`.execute(trx)
      else await sql`drop index ${sql.id('chain', row.name)}`.execute(trx)
    }
    return rows.length
  })
}

/**
 * Builds every deferred index, each with the forgetting of its definition, on `lanes` connections
 * at once; returns how many. Two lanes on PostgreSQL: a build is partly single-threaded (the scan
 * and the write of the index), so another build fills the second core (the nine of a
 * million-event backfill: 3.8 s → 3.1 s). Each transaction locks one table, so lanes that
 * wait for each other cannot deadlock.
 */
export async function buildDeferredIndexes(db: Kysely<Database>, logger: Logger, lanes = 1): Promise<number> {
  const deferred = await db.selectFrom('chain.deferred_indexes').select(['name', 'definition']).orderBy('name').execute()
  if (deferred.length === 0) return 0
  const started = performance.now()
  logger.info({ indexes: deferred.map((d) => d.name) }, `building ${deferred.length} indexes deferred during the backfill`)
  // Primary keys first: their ALTER TABLE locks the table whole, which a build in the other lane
  // would wait for (or make it wait); the two tables' keys build side by side, then the indexes,
  // which share their table.
  const isKey = (definition: string) => definition.startsWith('ALTER TABLE')
  const queue = [...deferred].sort((a, b) => Number(isKey(b.definition)) - Number(isKey(a.definition)))
  const lane = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { name, definition } = next
      await db.transaction().execute(async (trx) => {
        // A million rows' keys sort in memory instead of spilling to disk (the default is 64 MB).
        await sql`set local maintenance_work_mem = '128MB'`.execute(trx)
        // The definition is PostgreSQL's own (pg_indexes, pg_get_constraintdef), read back from our
        // table; it is built in the transaction that deletes it, so it is never built twice.
        await sql.raw(definition).execute(trx)
        await trx.deleteFrom('chain.deferred_indexes').where('name', '=', name).execute()
      })
    }
  }
  // A failed lane stops taking work; the other finishes its build before the error is thrown.
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, lanes) }, () => lane().catch((err: unknown) => {
    queue.length = 0
    throw err
  })))
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
  logger.info({ ms: Math.round(performance.now() - started) }, `built ${deferred.length} deferred indexes`)
  return deferred.length
}
