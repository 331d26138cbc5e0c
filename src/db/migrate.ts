import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely'
import type { Logger } from 'pino'
import { PGliteAdapter } from './pglite-dialect.js'

/** Where kysely keeps its own bookkeeping tables (kysely_migration, kysely_migration_lock). */
export const MIGRATION_TABLE_SCHEMA = 'app'

const MIGRATION_FILE = /^\d{4}_[a-z0-9_]+\.sql$/

/** The repository's migrations/ folder, from src/db (tsx, vitest) or dist/src/db (built). */
export function defaultMigrationsDir(): string {
  const candidates = ['../../migrations', '../../../migrations'].map((relative) => fileURLToPath(new URL(relative, import.meta.url)))
  return candidates.find((dir) => existsSync(dir)) ?? candidates[0]!
}

/**
 * Each `NNNN_name.sql` file of a folder is one migration named `NNNN_name`, applied in
 * name order. Its `up` runs the whole file as one query without parameters (the simple
 * protocol, so several statements are fine), inside the migrator's transaction: a file
 * must not contain BEGIN/COMMIT nor statements that refuse a transaction
 * (CREATE INDEX CONCURRENTLY). There is no `down`: roll forward with a new file.
 */
export class SqlFileMigrationProvider implements MigrationProvider {
  constructor(private readonly dir: string = defaultMigrationsDir()) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.dir)).filter((file) => file.endsWith('.sql')).sort()
    const migrations: Record<string, Migration> = {}
    for (const file of files) {
      // A misnamed file would otherwise be skipped silently, or sorted out of order.
      if (!MIGRATION_FILE.test(file)) throw new Error(`migration file ${join(this.dir, file)} is not named NNNN_lower_snake.sql`)
      const text = await readFile(join(this.dir, file), 'utf8')
      migrations[file.slice(0, -'.sql'.length)] = {
        up: async (db) => {
          try {
            await sql.raw(text).execute(db)
          } catch (error) {
            throw withLineNumber(error, text)
          }
        },
      }
    }
    return migrations
  }
}

/** PostgreSQL reports where a statement failed as a character `position` in the query: turn it into a line of the file. */
function withLineNumber(error: unknown, text: string): unknown {
  const position = Number((error as { position?: unknown }).position)
  if (!(error instanceof Error) || !Number.isInteger(position) || position < 1) return error
  const line = text.slice(0, position - 1).split('\n').length
  return new Error(`${error.message} (line ${line})`, { cause: error })
}

/** A migration failed; nothing of it was applied (each run is one transaction). */
export class MigrationError extends Error {
  override readonly name = 'MigrationError'
  constructor(message: string, readonly migrationName?: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

// Our own advisory lock key, distinct from kysely's (3853314791062309107).
const BOOTSTRAP_LOCK_KEY = 7_220_031_101n

/**
 * Applies every pending migration in order; returns the names applied (empty when
 * up to date). Safe when several processes start at once on a brand-new database:
 * on PostgreSQL the whole run, including kysely's creation of its own schema and
 * tables (which it does before taking its lock), happens under a session advisory
 * lock held on a dedicated connection, so a second process waits, then finds
 * nothing to do. On PGlite there is one process and the driver serializes sessions.
 */
export async function migrateToLatest(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any schema
  db: Kysely<any>,
  options: { logger?: Logger; migrationsDir?: string } = {},
): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: new SqlFileMigrationProvider(options.migrationsDir),
    migrationTableSchema: MIGRATION_TABLE_SCHEMA,
  })
  const migrate = async () => {
    const { error, results = [] } = await migrator.migrateToLatest()
    const failed = results.find((result) => result.status === 'Error')
    if (error !== undefined) {
      const reason = error instanceof Error ? error.message : String(error)
      const message = failed ? `migration ${failed.migrationName} failed: ${reason}` : `migrations failed: ${reason}`
      throw new MigrationError(message.replace(/\s+/g, ' '), failed?.migrationName, { cause: error })
    }
    const applied = results.filter((result) => result.status === 'Success').map((result) => result.migrationName)
    for (const name of applied) options.logger?.info({ migration: name }, 'migration applied')
    return applied
  }
  // On PGlite a dedicated connection would hold its only session while the migrator
  // waits for it: a deadlock. There is nothing to race with there anyway.
  if (db.getExecutor().adapter instanceof PGliteAdapter) return migrate()

  return db.connection().execute(async (lockDb) => {
    // Waiting for another process's migrations must not hit statement_timeout;
    // RESET restores the connection's configured value afterwards.
    await sql`set statement_timeout = 0`.execute(lockDb)
    await sql`select pg_advisory_lock(${sql.lit(BOOTSTRAP_LOCK_KEY)})`.execute(lockDb)
    try {
      return await migrate()
    } finally {
      // If the connection died, the server already released the session's lock.
      await sql`select pg_advisory_unlock(${sql.lit(BOOTSTRAP_LOCK_KEY)})`.execute(lockDb).catch(() => undefined)
      await sql`reset statement_timeout`.execute(lockDb).catch(() => undefined)
    }
  })
}
