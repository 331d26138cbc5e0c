import path from 'node:path'
import { createDatabase, migrateToLatest, type DatabaseHandle } from '../db/index.js'
import type { Context } from '../context.js'

/** Opens the configured database (PostgreSQL from DATABASE_URL, else PGlite under the data dir). */
export function openDatabase(ctx: Pick<Context, 'config' | 'logger'>, { statementTimeout = true } = {}): Promise<DatabaseHandle> {
  const { database, dataDir } = ctx.config
  return createDatabase({
    ...(database.url ? { url: database.url } : { pgliteDir: path.resolve(dataDir, 'pglite') }),
    ...(database.readUrl ? { readUrl: database.readUrl } : {}),
    ...(statementTimeout ? { statementTimeoutMs: database.statementTimeoutMs } : {}),
    logger: ctx.logger,
  })
}

/** `haithe migrate`: applies pending migrations, safe to run from several processes at once. */
export async function runMigrate(ctx: Context): Promise<void> {
  // Migrations may run longer than the request statement timeout.
  const database = await openDatabase(ctx, { statementTimeout: false })
  try {
    const applied = await migrateToLatest(database.db, { logger: ctx.logger })
    ctx.logger.info({ target: database.target, applied }, applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date')
  } finally {
    await database.destroy()
  }
}
