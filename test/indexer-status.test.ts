/**
 * chain.indexer_status on its own: the row as the read API reads it, the leader fence, and the
 * recorder's promises (a role change at once, other changes at most once per interval, a failing
 * write only logged). The indexer writing it as it runs is tested in indexer.test.ts.
 */
import { sql } from 'kysely'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStatusRecorder, writeIndexerStatus } from '../indexer/database/status.js'
import { readIndexerStatus, type IndexerStatus } from '../indexer/index.js'
import { createTestDatabase, type TestDatabase } from './support/database.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** The recorded status of `chainId` once it matches `expected` (within 5 s). */
async function recordedAs(chainId: number, expected: Record<string, unknown>) {
  const deadline = Date.now() + 5_000
  for (;;) {
    const status = await readIndexerStatus(database.db, chainId)
    if (status && Object.entries(expected).every(([k, v]) => status[k as keyof typeof status] === v)) return status
    if (Date.now() > deadline) throw new Error(`indexer_status of chain ${chainId}: not ${JSON.stringify(expected)} within 5 s but ${JSON.stringify(status)}`)
    await sleep(20)
  }
}

let database: TestDatabase
beforeAll(async () => {
  database = await createTestDatabase()
})
afterAll(async () => {
  await database?.cleanup()
})

const base: IndexerStatus = { role: 'backfill', chainId: 7, head: 1_000, indexed: 400, finalized: 990, eventsPerSecond: 25_000, rpcHealthy: true, ready: false }

describe('chain.indexer_status', () => {
  it('reads back what was written, block numbers as numbers, nulls as null; undefined for a chain never indexed', async () => {
    const db = database.db
    expect(await readIndexerStatus(db, 7)).toBeUndefined()
    await writeIndexerStatus(db, { ...base, head: null, indexed: null, finalized: null, role: 'starting', eventsPerSecond: 0 }, undefined)
    expect(await readIndexerStatus(db, 7)).toMatchObject({ role: 'starting', head: null, indexed: null, finalized: null, eventsPerSecond: 0, error: null })

    const before = Date.now()
    await writeIndexerStatus(db, { ...base, head: 2 ** 40, indexed: 2 ** 40 - 1, error: 'eth_getLogs: 503' }, undefined)
    const status = await readIndexerStatus(db, 7)
    expect(status).toEqual({
      role: 'backfill', head: 2 ** 40, indexed: 2 ** 40 - 1, finalized: 990, eventsPerSecond: 25_000, rpcHealthy: true, ready: false,
      error: 'eth_getLogs: 503', updatedAt: expect.any(Date),
    })
    expect(status!.updatedAt.getTime()).toBeGreaterThan(before - 5_000)
    expect(await readIndexerStatus(db, 8)).toBeUndefined()
  })

  it.skipIf(!process.env.DATABASE_URL)('a session that does not hold the chain\'s lock writes nothing (PostgreSQL)', async () => {
    const db = database.db
    await writeIndexerStatus(db, { ...base, chainId: 9, role: 'realtime' }, undefined)
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)
    await writeIndexerStatus(db, { ...base, chainId: 9, role: 'stopped' }, rows[0]!.pid)
    expect(await readIndexerStatus(db, 9)).toMatchObject({ role: 'realtime' })
  })
})

describe('status recorder', () => {
  function recorderOf(status: IndexerStatus, intervalMs: number, keepAliveMs?: number) {
    const lines: { level: number; msg: string }[] = []
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) })
    const recorder = createStatusRecorder({ db: database.db, logger, current: () => ({ ...status }), leaderPid: () => undefined, intervalMs, keepAliveMs })
    return { recorder, lines }
  }

  it('writes nothing before it leads; then a role change at once, other changes at most once per interval but none lost', async () => {
    const status: IndexerStatus = { ...base, chainId: 11, role: 'standby' }
    const { recorder } = recorderOf(status, 2_000)
    recorder.changed()
    await sleep(100)
    expect(await readIndexerStatus(database.db, 11)).toBeUndefined()

    status.role = 'starting'
    recorder.lead()
    await recordedAs(11, { role: 'starting' })
    status.role = 'backfill'
    recorder.changed()
    await recordedAs(11, { role: 'backfill', indexed: 400 })

    // Progress within the interval waits for its end, then the latest values are written.
    for (const indexed of [500, 600, 700]) {
      status.indexed = indexed
      recorder.changed()
    }
    expect(await readIndexerStatus(database.db, 11)).toMatchObject({ indexed: 400 })
    await recordedAs(11, { role: 'backfill', indexed: 700 })

    status.role = 'stopped'
    await recorder.close()
    expect(await readIndexerStatus(database.db, 11)).toMatchObject({ role: 'stopped', indexed: 700 })
    // Closed: nothing more.
    status.role = 'realtime'
    recorder.changed()
    await sleep(100)
    expect(await readIndexerStatus(database.db, 11)).toMatchObject({ role: 'stopped' })
  })

  it('keeps the row fresh while leading with nothing changed (readers judge liveness by updated_at)', async () => {
    const status: IndexerStatus = { ...base, chainId: 13, role: 'realtime' }
    const { recorder } = recorderOf(status, 50, 300)
    recorder.lead()
    const first = await recordedAs(13, { role: 'realtime' })
    const deadline = Date.now() + 5_000
    let later = first
    while (later.updatedAt.getTime() === first.updatedAt.getTime() && Date.now() < deadline) {
      await sleep(50)
      later = (await readIndexerStatus(database.db, 13))!
    }
    expect(later.updatedAt.getTime()).toBeGreaterThan(first.updatedAt.getTime())
    await recorder.close()
  })

  it('a failing write is a warning, not an error of the indexer; recording resumes once the database answers', async () => {
    const status: IndexerStatus = { ...base, chainId: 12, role: 'starting' }
    const { recorder, lines } = recorderOf(status, 50)
    await sql`alter table chain.indexer_status rename to indexer_status_away`.execute(database.db)
    try {
      recorder.lead()
      status.role = 'backfill'
      expect(() => recorder.changed()).not.toThrow()
      await sleep(200)
    } finally {
      await sql`alter table chain.indexer_status_away rename to indexer_status`.execute(database.db)
    }
    const warnings = lines.filter((l) => l.level === 40)
    expect(warnings.length).toBe(1) // once per minute while it keeps failing
    expect(warnings[0]!.msg).toMatch(/could not record its status.*indexing goes on/)

    status.indexed = 800
    recorder.changed()
    await recordedAs(12, { role: 'backfill', indexed: 800 })
    // The row is visible once committed; the recorder logs when its write returns, a moment later.
    const recovered = () => lines.some((l) => l.msg === 'indexer: recording its status again')
    for (const deadline = Date.now() + 5_000; !recovered() && Date.now() < deadline;) await sleep(10)
    expect(recovered()).toBe(true)
    await recorder.close()
  })
})
