// The database layer: one door for the rest of the code.
export {
  createDatabase,
  checkDatabaseConnection,
  maskDatabaseUrl,
  DatabaseConnectError,
  type DatabaseOptions,
  type DatabaseHandle,
} from './connect.js'
export {
  migrateToLatest,
  SqlFileMigrationProvider,
  MigrationError,
  defaultMigrationsDir,
  MIGRATION_TABLE_SCHEMA,
} from './migrate.js'
export { PGliteDialect } from './pglite-dialect.js'
export type * from './types.js'
export type { ListenHandlers, Listener } from './listen.js'
export { preparedAs } from './prepared-statements.js'
export { copyIn } from './copy-in.js'
export { acquireLeadership, databaseKindOf, holdsLeaderLock, type AdvisoryLockKey, type Leadership } from './advisory-lock.js'
