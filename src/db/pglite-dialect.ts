// A kysely dialect for embedded PGlite, written here rather than taken from the
// kysely-pglite package: that driver hands every caller the same session at once,
// so two concurrent `db.transaction()` calls interleave their statements inside one
// BEGIN..COMMIT. PGlite has exactly one session, so "acquiring a connection" here
// means taking a turn on that session: the turn is held until kysely releases the
// connection, which for a transaction is after COMMIT or ROLLBACK.
import type { PGlite, Results } from '@electric-sql/pglite'
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'
import { copyInStatement } from './copy-in.js'

/** Same SQL and migration lock as Postgres; a distinct class so callers can tell an embedded database apart. */
export class PGliteAdapter extends PostgresAdapter {}

export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite) {}
  createAdapter() { return new PGliteAdapter() }
  createDriver(): Driver { return new PGliteDriver(this.pglite) }
  createQueryCompiler() { return new PostgresQueryCompiler() }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- kysely's Dialect signature
  createIntrospector(db: Kysely<any>) { return new PostgresIntrospector(db) }
}

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`
const run = (connection: DatabaseConnection, sqlText: string) =>
  connection.executeQuery(CompiledQuery.raw(sqlText)).then(() => undefined)

class PGliteDriver implements Driver {
  /** Resolves when the session is free: each acquisition chains one link and waits for the previous one. */
  #tail: Promise<void> = Promise.resolve()

  constructor(private readonly pglite: PGlite) {}

  async init() {}

  async acquireConnection(): Promise<DatabaseConnection> {
    let release!: () => void
    const released = new Promise<void>((resolve) => { release = resolve })
    const previous = this.#tail
    this.#tail = previous.then(() => released)
    await previous
    return new PGliteConnection(this.pglite, release)
  }

  async releaseConnection(connection: DatabaseConnection) {
    (connection as PGliteConnection).release()
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    const isolation = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : ''
    await run(connection, `start transaction${isolation}${settings.accessMode ? ` ${settings.accessMode}` : ''}`)
  }
  commitTransaction(connection: DatabaseConnection) { return run(connection, 'commit') }
  rollbackTransaction(connection: DatabaseConnection) { return run(connection, 'rollback') }
  savepoint(connection: DatabaseConnection, name: string) { return run(connection, `savepoint ${quoteIdentifier(name)}`) }
  rollbackToSavepoint(connection: DatabaseConnection, name: string) { return run(connection, `rollback to savepoint ${quoteIdentifier(name)}`) }
  releaseSavepoint(connection: DatabaseConnection, name: string) { return run(connection, `release savepoint ${quoteIdentifier(name)}`) }

  async destroy() {
    if (!this.pglite.closed) await this.pglite.close()
  }
}

const MODIFYING_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE'])

class PGliteConnection implements DatabaseConnection {
  #released = false
  constructor(private readonly pglite: PGlite, private readonly releaseTurn: () => void) {}

  release() {
    if (!this.#released) { this.#released = true; this.releaseTurn() }
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const copy = copyInStatement(query.sql)
    if (copy !== undefined) {
      // PGlite reads COPY's input from a blob named /dev/blob.
      await this.pglite.query(copy.replace(/ from stdin$/, " from '/dev/blob'"), [], { blob: new Blob([query.parameters[0] as string | Buffer]) })
      return { rows: [] }
    }
    // No parameters: the simple protocol (`exec`), which like pg accepts several
    // statements in one string, so a whole SQL migration file runs as one query.
    // With parameters: the extended protocol (`query`), one statement.
    const result: Results<R> | undefined = query.parameters.length === 0
      ? (await this.pglite.exec(query.sql)).at(-1) as Results<R> | undefined
      : await this.pglite.query<R>(query.sql, [...query.parameters])
    if (!result) return { rows: [] }
    // `rowCount` is per statement; `affectedRows` adds up across a multi-statement exec.
    const affected = result.rowCount ?? result.affectedRows
    return {
      rows: result.rows,
      numAffectedRows: result.command && MODIFYING_COMMANDS.has(result.command) && affected !== undefined
        ? BigInt(affected) : undefined,
    }
  }

  // PGlite has no cursors over its single session; yield the whole result at once.
  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    yield await this.executeQuery<R>(query)
  }
}
