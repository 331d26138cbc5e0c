// A fresh database per test file: a brand-new PostgreSQL database on the server of
// DATABASE_URL when it is set (dropped on cleanup), else an in-memory PGlite.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { createDatabase, migrateToLatest, type DatabaseHandle } from '../../src/db/index.js'

export interface TestDatabase extends DatabaseHandle {
  /** The URL of the new PostgreSQL database; undefined on PGlite. */
  url: string | undefined
  /** Destroys the pools (or closes PGlite) and drops the database. */
  cleanup(): Promise<void>
}

/** Creates an empty, uniquely named database on DATABASE_URL's server; returns its URL and how to drop it. */
export async function createScratchPostgresDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `haithe_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const dropper = new pg.Client({ connectionString: serverUrl })
      await dropper.connect()
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await dropper.end()
      }
    },
  }
}

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL
  let handle: DatabaseHandle
  let url: string | undefined
  let drop = async () => {}
  if (serverUrl) {
    const scratch = await createScratchPostgresDatabase(serverUrl)
    url = scratch.url
    drop = scratch.drop
    handle = await createDatabase({ url }).catch(async (error: unknown) => {
      await drop()
      throw error
    })
  } else {
    handle = await createDatabase({ pgliteDir: 'memory://' })
  }
  const cleanup = async () => {
    await handle.destroy()
    await drop()
  }
  if (options.migrate ?? true) {
    await migrateToLatest(handle.db).catch(async (error: unknown) => {
      await cleanup()
      throw error
    })
  }
  return { ...handle, url, cleanup }
}
