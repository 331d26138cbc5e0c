/**
 * Knowledge chunks in app.knowledge_chunks, indexed at first use and searched with PostgreSQL
 * full-text search (the generated `tsv` column, english configuration).
 *
 * A document with no text is remembered as one row with ordinal -1 and empty content, which
 * searches skip: an empty product is parsed once, not on every call.
 */
import { sql, type ExpressionBuilder, type Kysely } from 'kysely'
import type { Database } from '../../../db/index.js'

export interface KnowledgeKey {
  chainId: number
  product: string
  version: string
}

export interface KnowledgeQuery {
  chainId: number
  /** The knowledge products (at their current versions) to search. */
  sources: { product: string; version: string }[]
  /** The question; its words are OR-ed (stemmed, stop words dropped). */
  text: string
  limit: number
}

export interface KnowledgeHit {
  product: string
  ordinal: number
  content: string
  /** ts_rank_cd of the chunk; 0 for the first-chunks fallback. */
  rank: number
}

/** The ordinal of the row that says "indexed, no text". */
const EMPTY_DOCUMENT_ORDINAL = -1
const ROWS_PER_INSERT = 500
/** A question longer than this is cut before it is turned into a query. */
const MAX_QUERY_CHARS = 4000

/** Loads per process in flight, so concurrent first uses of one product fetch and parse it once. */
const loading = new WeakMap<Kysely<Database>, Map<string, Promise<{ chunks: number; indexed: boolean }>>>()

/**
 * Makes sure (chain, product, version) has its chunks stored: returns at once when it has
 * (indexed: false), else calls `load` and stores what it returns in one transaction
 * (indexed: true). Concurrent callers, in this process or in other gateway replicas, leave
 * exactly one set of chunks: a transaction-scoped advisory lock on the key serialises writers,
 * and the one that comes second finds the chunks and writes nothing.
 */
export async function ensureKnowledgeIndexed(
  db: Kysely<Database>,
  key: KnowledgeKey,
  load: () => Promise<string[]>,
): Promise<{ chunks: number; indexed: boolean }> {
  const stored = await storedChunks(db, key)
  if (stored !== null) return { chunks: stored, indexed: false }

  let inFlight = loading.get(db)
  if (!inFlight) loading.set(db, (inFlight = new Map()))
  const id = JSON.stringify([key.chainId, key.product, key.version])
  const pending = inFlight.get(id)
  if (pending) return pending
  const indexing = index(db, key, load).finally(() => inFlight.delete(id))
  inFlight.set(id, indexing)
  return indexing
}

async function index(db: Kysely<Database>, key: KnowledgeKey, load: () => Promise<string[]>): Promise<{ chunks: number; indexed: boolean }> {
  // Fetching and parsing happen outside the transaction: no connection is held while they run.
  const chunks = (await load()).filter((chunk) => chunk.trim() !== '')
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${`haithe:knowledge:${key.chainId}:${key.product}:${key.version}`}))`.execute(trx)
    const stored = await storedChunks(trx, key)
    if (stored !== null) return { chunks: stored, indexed: false }
    const rows =
      chunks.length > 0
        ? chunks.map((content, ordinal) => ({ chain_id: key.chainId, product: key.product, version: key.version, ordinal, content }))
        : [{ chain_id: key.chainId, product: key.product, version: key.version, ordinal: EMPTY_DOCUMENT_ORDINAL, content: '' }]
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      await trx
        .insertInto('app.knowledge_chunks')
        .values(rows.slice(start, start + ROWS_PER_INSERT))
        .onConflict((oc) => oc.columns(['chain_id', 'product', 'version', 'ordinal']).doNothing())
        .execute()
    }
    return { chunks: chunks.length, indexed: true }
  })
}

/** How many chunks are stored for the key (0 for an empty document), or null when it was never indexed. */
async function storedChunks(db: Kysely<Database>, key: KnowledgeKey): Promise<number | null> {
  const row = await db
    .selectFrom('app.knowledge_chunks')
    .select((eb) => [eb.fn.countAll<string | number>().as('rows'), sql<string | number>`count(*) filter (where ordinal >= 0)`.as('chunks')])
    .where('chain_id', '=', key.chainId)
    .where('product', '=', key.product)
    .where('version', '=', key.version)
    .executeTakeFirstOrThrow()
  return Number(row.rows) === 0 ? null : Number(row.chunks)
}

/**
 * The best `limit` chunks of the given sources for `text`, by ts_rank_cd of an OR of the text's
 * stemmed words. When the text has no searchable word (empty, or stop words only), the first
 * chunks of each source instead (ordinal by ordinal), so a small knowledge base still informs
 * the answer.
 */
export async function searchKnowledge(db: Kysely<Database>, query: KnowledgeQuery): Promise<KnowledgeHit[]> {
  if (query.sources.length === 0 || query.limit <= 0) return []
  const sources = (eb: ExpressionBuilder<Database, 'app.knowledge_chunks'>) =>
    eb.or(query.sources.map((source) => eb.and([eb('product', '=', source.product), eb('version', '=', source.version)])))
  const fromChunks = () => db.selectFrom('app.knowledge_chunks').where('chain_id', '=', query.chainId).where('ordinal', '>=', 0).where(sources)

  // plainto_tsquery gives 'a' & 'b' (stemmed, stop words dropped): the same lexemes OR-ed match a chunk with any of them.
  const { tsquery } = await sql<{ tsquery: string }>`select replace(plainto_tsquery('english', ${query.text.slice(0, MAX_QUERY_CHARS)})::text, '&', '|') as tsquery`
    .execute(db)
    .then((result) => result.rows[0]!)

  if (tsquery.trim() === '') {
    const rows = await fromChunks()
      .select(['product', 'ordinal', 'content'])
      .orderBy('ordinal')
      .orderBy('product')
      .limit(query.limit)
      .execute()
    return rows.map((row) => ({ ...row, rank: 0 }))
  }

  const rank = sql<number>`ts_rank_cd(tsv, ${tsquery}::tsquery)`
  const rows = await fromChunks()
    .where(sql<boolean>`tsv @@ ${tsquery}::tsquery`)
    .select(['product', 'ordinal', 'content', rank.as('rank')])
    .orderBy('rank', 'desc')
    .orderBy('product')
    .orderBy('ordinal')
    .limit(query.limit)
    .execute()
  return rows.map((row) => ({ product: row.product, ordinal: row.ordinal, content: row.content, rank: Number(row.rank) }))
}
