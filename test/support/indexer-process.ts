/**
 * `haithe indexer` as a child process, for tests that kill it: where its database lives (a
 * scratch PostgreSQL database, or an on-disk PGlite directory), how to start it, and how to
 * read its health, readiness and metrics endpoints.
 *
 *   const database = await createChildDatabase()
 *   const child = await startIndexerProcess({ rpcUrl, database })
 *   await child.waitUntilIndexed(head, 60_000)
 *   await child.proc.kill()                       // SIGKILL
 *   const snapshot = await database.read((db) => snapshotIndex(db, chainId))
 *   await database.cleanup()
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Kysely } from 'kysely'
import { createDatabase, type Database } from '../../src/db/index.js'
import { freePort, haitheEnv, startHaithe, type HaitheProcess } from './cli.js'
import { createScratchPostgresDatabase } from './database.js'

export interface ChildDatabase {
  kind: 'postgres' | 'pglite'
  /** The environment that points `haithe` at it: DATABASE_URL, or HAITHE_DATA_DIR. */
  env: Record<string, string>
  /** Where it is, for messages. */
  target: string
  /**
   * Opens it in this process for `fn`, then closes it. On PGlite only while no child process
   * has it open (an embedded database belongs to one process).
   */
  read<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T>
  cleanup(): Promise<void>
}

/** A fresh database for child processes: on DATABASE_URL's server when set, else an on-disk PGlite directory. */
export async function createChildDatabase(serverUrl = process.env.DATABASE_URL): Promise<ChildDatabase> {
  if (serverUrl) {
    const scratch = await createScratchPostgresDatabase(serverUrl)
    return {
      kind: 'postgres',
      env: { DATABASE_URL: scratch.url },
      target: scratch.url,
      async read(fn) {
        const handle = await createDatabase({ url: scratch.url })
        try {
          return await fn(handle.db)
        } finally {
          await handle.destroy()
        }
      },
      cleanup: () => scratch.drop(),
    }
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'haithe-indexer-'))
  // Where `haithe` puts it: <data dir>/pglite (src/commands/migrate.ts).
  const pgliteDir = path.join(dataDir, 'pglite')
  const readDir = async <T>(dir: string, fn: (db: Kysely<Database>) => Promise<T>): Promise<T> => {
    const handle = await createDatabase({ pgliteDir: dir })
    try {
      return await fn(handle.db)
    } finally {
      await handle.destroy()
    }
  }
  return {
    kind: 'pglite',
    env: { HAITHE_DATA_DIR: dataDir },
    target: pgliteDir,
    read: (fn) => readDir(pgliteDir, fn),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  }
}

/** A HAITHE_CONFIG_FILE with `config` (deep-merged over config/default.json); returns its path. */
export async function writeConfigFile(config: Record<string, unknown>): Promise<{ file: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'haithe-config-'))
  const file = path.join(dir, 'config.json')
  await writeFile(file, JSON.stringify(config))
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

export interface Readiness {
  status: number
  /** The indexer check's detail, e.g. "indexed 570 of head 570" or "backfill: ..., RPC unreachable". */
  detail: string
  /** From "indexed N of head M" when ready. */
  indexed?: number
  head?: number
}

export interface IndexerProcess {
  proc: HaitheProcess
  port: number
  /** GET on the health server; status 0 when it does not answer. */
  get(route: string): Promise<{ status: number; text: string }>
  readiness(): Promise<Readiness>
  /** A metric's value from /metrics (the sum over its label sets); undefined when absent or unreachable. */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>
  /** Waits until /health/ready is 200 and the indexer has applied every block up to `block`. */
  waitUntilIndexed(block: number, timeoutMs: number): Promise<Readiness>
}

export interface IndexerProcessOptions {
  rpcUrl: string
  database: ChildDatabase
  /** A HAITHE_CONFIG_FILE path (tuning). */
  configFile?: string
  logLevel?: string
  env?: Record<string, string>
}

/** Starts `node bin/haithe.js indexer` on the devnet chain file, with the RPC and database given. */
export async function startIndexerProcess(options: IndexerProcessOptions): Promise<IndexerProcess> {
  const port = await freePort()
  const proc = startHaithe(
    ['indexer'],
    haitheEnv({
      HAITHE_CHAIN: 'devnet',
      BLOCKCHAIN_PROVIDER_URL: options.rpcUrl,
      INDEXER_PORT: String(port),
      LOG_FORMAT: 'json',
      LOG_LEVEL: options.logLevel ?? 'info',
      ...(options.configFile ? { HAITHE_CONFIG_FILE: options.configFile } : {}),
      ...options.database.env,
      ...options.env,
    }),
  )
  const base = `http://127.0.0.1:${port}`

  const get = async (route: string) => {
    try {
      const response = await fetch(base + route, { signal: AbortSignal.timeout(5_000) })
      return { status: response.status, text: await response.text() }
    } catch {
      return { status: 0, text: '' }
    }
  }

  const readiness = async (): Promise<Readiness> => {
    const { status, text } = await get('/health/ready')
    let detail: string
    try {
      detail = (JSON.parse(text) as { checks?: { indexer?: { detail?: string } } }).checks?.indexer?.detail ?? ''
    } catch {
      detail = text
    }
    const match = /^indexed (\d+) of head (\d+)$/.exec(detail)
    return { status, detail, ...(match ? { indexed: Number(match[1]), head: Number(match[2]) } : {}) }
  }

  return {
    proc,
    port,
    get,
    readiness,
    async metric(name, labels = {}) {
      const { status, text } = await get('/metrics')
      if (status !== 200) return undefined
      let total: number | undefined
      for (const line of text.split('\n')) {
        const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line)
        if (!match || match[1] !== name) continue
        const set = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
        if (Object.entries(labels).every(([k, v]) => set[k] === v)) total = (total ?? 0) + Number(match[3])
      }
      return total
    },
    async waitUntilIndexed(block, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        if (proc.hasExited()) throw new Error(`the indexer exited before indexing block ${block}; stderr: ${proc.stderr().slice(-2000)}; last log lines: ${proc.stdout().slice(-2000)}`)
        const last = await readiness()
        if (last.status === 200 && last.indexed !== undefined && last.indexed >= block) return last
        if (Date.now() > deadline) throw new Error(`the indexer did not index block ${block} within ${timeoutMs} ms; readiness ${last.status} ${last.detail}; last log lines: ${proc.stdout().slice(-2000)}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    },
  }
}
