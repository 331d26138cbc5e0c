import { mkdir } from 'node:fs/promises'
import type { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import type { Logger } from 'pino'
import { withCopyIn } from './copy-in.js'
import { listenPGlite, listenPostgres, type ListenHandlers, type Listener } from './listen.js'
import { PGliteDialect } from './pglite-dialect.js'
import { withPreparedStatements } from './prepared-statements.js'
import type { Database } from './types.js'

export interface DatabaseOptions {
  /** postgres:// URL of a PostgreSQL server (DATABASE_URL). Without it, the embedded PGlite at `pgliteDir` is used. */
  url?: string
  /** postgres:// URL for reads (DATABASE_READ_URL), e.g. a read replica; defaults to `url`. */
  readUrl?: string
  /** Directory of the embedded PGlite database (created if missing), or 'memory://'. */
  pgliteDir?: string
  /** statement_timeout of every PostgreSQL connection, in milliseconds. */
  statementTimeoutMs?: number
  logger?: Logger
}

export interface DatabaseHandle {
  /** For writes (and reads that must see them). */
  db: Kysely<Database>
  /** For reads; the same instance as `db` unless `readUrl` was given. */
  readDb: Kysely<Database>
  kind: 'postgres' | 'pglite'
  /** Where the database is, safe to log: the URL with its password masked, or the PGlite directory. */
  target: string
  /** LISTEN on `channel` of the primary database (see listen.ts). */
  listen(channel: string, handlers: ListenHandlers): Promise<Listener>
  destroy(): Promise<void>
}

/** The database cannot be reached or opened. Its message is one line and never contains a password. */
export class DatabaseConnectError extends Error {
  override readonly name = 'DatabaseConnectError'
  constructor(readonly target: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot connect to ${target}: ${reason}`, options)
  }
}

/** A postgres URL with its password replaced by `***`, even when the URL does not parse. */
export function maskDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***')
    return parsed.toString()
  } catch {
    // Greedy up to the last '@': a password with a raw '@' in it is masked whole.
    return url.replace(/\/\/([^:/@]*):.*@/, '//$1:***@')
  }
}

/** One line, from an Error, an AggregateError (Node's happy-eyeballs connect: its own message is empty) or anything thrown. */
function reasonOf(error: unknown, secrets: string[] = []): string {
  let reason: string
  if (error instanceof AggregateError && error.errors.length > 0) {
    reason = [...new Set(error.errors.map((inner) => reasonOf(inner)))].join('; ')
  } else if (error instanceof Error) {
    reason = error.message || (error as { code?: string }).code || error.name
  } else {
    reason = String(error)
  }
  for (const secret of secrets) if (secret) reason = reason.replaceAll(secret, '***')
  return reason.replace(/\s+/g, ' ').trim()
}

function passwordsOf(url: string): string[] {
  try {
    const parsed = new URL(url)
    return [parsed.password, decodeURIComponent(parsed.password), parsed.searchParams.get('password') ?? '']
  } catch {
    return []
  }
}

/** Runs `select 1`; throws DatabaseConnectError naming `target` when it fails. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any schema
export async function checkDatabaseConnection(db: Kysely<any>, target: string, secrets: string[] = []): Promise<void> {
  try {
    await sql`select 1`.execute(db)
  } catch (error) {
    throw new DatabaseConnectError(target, reasonOf(error, secrets), { cause: error })
  }
}

// pg parses int8 and numeric as strings already, but int8[] and numeric[] as JS
// numbers (parseFloat: 2^255 would lose digits), and `pg.types.setTypeParser` is
// process-wide, so anyone could change them. These parsers belong to our pools only.
const keepText = (value: string) => value
// pg-types declares its oid parameter as an enum without the array oids.
const defaultParser = pg.types.getTypeParser as (oid: number, format?: 'text' | 'binary') => unknown
const INT8 = 20, INT8_ARRAY = 1016, NUMERIC = 1700, NUMERIC_ARRAY = 1231, TEXT_ARRAY = 1009
const exactNumbers = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') => {
    if (format === 'binary') return defaultParser(oid, format)
    if (oid === INT8 || oid === NUMERIC) return keepText
    // Parse as text[]: an array of strings (nulls kept).
    if (oid === INT8_ARRAY || oid === NUMERIC_ARRAY) return defaultParser(TEXT_ARRAY, 'text')
    return defaultParser(oid, format)
  },
} as pg.CustomTypesConfig

const CONNECT_TIMEOUT_MS = 10_000

async function openPostgres(url: string, setting: string, options: DatabaseOptions) {
  const target = `PostgreSQL at ${maskDatabaseUrl(url)} (${setting})`
  let protocol: string | undefined
  try { protocol = new URL(url).protocol } catch { /* reported below */ }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new DatabaseConnectError(target, 'not a postgres:// URL')
  }
  const pool = new pg.Pool({
    connectionString: url,
    types: exactNumbers,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'haithe',
    ...(options.statementTimeoutMs !== undefined ? { statement_timeout: options.statementTimeoutMs } : {}),
  })
  // An idle connection that breaks (server restart) is dropped from the pool; without
  // a listener, the pool's 'error' event would crash the process.
  pool.on('error', (error) => options.logger?.warn({ target, reason: reasonOf(error, passwordsOf(url)) }, 'idle PostgreSQL connection lost'))
  // A checked-out client has no pool listener: a session the server ends while it is held (the
  // indexer's lock session) would crash the process. Its next query fails instead.
  pool.on('connect', (client) => client.on('error', (error) => options.logger?.warn({ target, reason: reasonOf(error, passwordsOf(url)) }, 'PostgreSQL connection lost')))
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: withCopyIn(withPreparedStatements(pool)) }) })
  try {
    await checkDatabaseConnection(db, target, passwordsOf(url))
  } catch (error) {
    await db.destroy().catch(() => undefined)
    throw error
  }
  return { db, target }
}

async function openPGlite(dir: string) {
  const target = `embedded PGlite database at ${dir}`
  let pglite: PGlite
  try {
    if (!dir.startsWith('memory://')) await mkdir(dir.replace(/^file:\/\//, ''), { recursive: true })
    // Loaded only for the embedded database: a process on PostgreSQL starts without it.
    const { PGlite, types } = await import('@electric-sql/pglite')
    // PGlite returns int8 as a JS bigint and int8[] as JS numbers (lossy) by default;
    // numeric is already a string. Strings everywhere, as with pg.
    pglite = await PGlite.create(dir, { parsers: { [types.INT8]: keepText, [types.NUMERIC]: keepText } })
  } catch (error) {
    throw new DatabaseConnectError(target, reasonOf(error), { cause: error })
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) })
  try {
    await checkDatabaseConnection(db, target)
  } catch (error) {
    await db.destroy().catch(() => undefined)
    throw error
  }
  return { db, target, pglite }
}

/**
 * Opens the database: PostgreSQL when `url` is given (plus a second pool for
 * `readUrl`), else the embedded PGlite at `pgliteDir`. Probes with `select 1` and
 * throws DatabaseConnectError when it cannot connect.
 */
export async function createDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const primary = await openPostgres(options.url, 'DATABASE_URL', options)
    let read = primary
    if (options.readUrl && options.readUrl !== options.url) {
      try {
        read = await openPostgres(options.readUrl, 'DATABASE_READ_URL', options)
      } catch (error) {
        await primary.db.destroy().catch(() => undefined)
        throw error
      }
    }
    options.logger?.info({ target: primary.target, readTarget: read.target }, 'database connected')
    return {
      db: primary.db,
      readDb: read.db,
      kind: 'postgres',
      target: primary.target,
      listen: (channel, handlers) => listenPostgres(options.url!, channel, handlers, options.logger),
      destroy: async () => {
        await Promise.all([primary.db.destroy(), read === primary ? undefined : read.db.destroy()])
      },
    }
  }
  if (!options.pgliteDir) throw new Error('createDatabase: give either url (PostgreSQL) or pgliteDir (embedded PGlite)')
  const { db, target, pglite } = await openPGlite(options.pgliteDir)
  options.logger?.info({ target }, 'database opened')
  return { db, readDb: db, kind: 'pglite', target, listen: (channel, handlers) => listenPGlite(db, pglite, channel, handlers), destroy: () => db.destroy() }
}
