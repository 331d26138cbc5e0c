import { readdirSync } from 'node:fs'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql, type Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createDatabase,
  DatabaseConnectError,
  migrateToLatest,
  defaultMigrationsDir,
  MigrationError,
  preparedAs,
  copyIn,
} from '../src/db/index.js'
import { createScratchPostgresDatabase, createTestDatabase, type TestDatabase } from './support/database.js'
import { rejectionOf } from './support/rejection.js'

/** Every migration the project ships, in order: what a fresh database must end up with. */
const shippedMigrations = readdirSync(defaultMigrationsDir()).filter((f) => f.endsWith('.sql')).sort().map((f) => f.replace(/\.sql$/, ''))

const backend = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'

/** Tables these tests create for themselves, outside the application's schemas. */
type ScratchTables = {
  counters: { id: number; value: number }
  entries: { id: number; label: string }
}

describe(`database on ${backend}`, () => {
  let database: TestDatabase
  let scratch: Kysely<ScratchTables>

  beforeAll(async () => {
    database = await createTestDatabase()
    scratch = database.db.withTables<ScratchTables>()
    await sql`create table counters (id int primary key, value int not null)`.execute(scratch)
    await sql`create table entries (id int primary key, label text not null)`.execute(scratch)
  })
  afterAll(async () => {
    await database?.cleanup()
  })

  it('has the schemas chain and app, each with its one-writer comment, and a second migration run applies nothing', async () => {
    expect(database.kind).toBe(process.env.DATABASE_URL ? 'postgres' : 'pglite')
    const { rows } = await sql<{ name: string; comment: string | null }>`
      select nspname as name, obj_description(oid, 'pg_namespace') as comment
      from pg_namespace where nspname in ('chain', 'app') order by nspname`.execute(database.db)
    expect(rows.map((row) => row.name)).toEqual(['app', 'chain'])
    expect(rows.find((row) => row.name === 'chain')?.comment).toMatch(/indexer only/)
    expect(rows.find((row) => row.name === 'app')?.comment).toMatch(/write path/)

    const { rows: recorded } = await sql<{ name: string }>`select name from app.kysely_migration order by name`.execute(database.db)
    expect(recorded.map((row) => row.name)).toEqual(shippedMigrations)
    expect(await migrateToLatest(database.db)).toEqual([])
  })

  it('returns numeric(78,0) and int8 values as exact decimal strings, as parameters and as literals', async () => {
    const twoTo255 = 2n ** 255n
    const maxInt8 = 2n ** 63n - 1n
    // A temporary table lives in one session: keep to one connection.
    const rows = await database.db.connection().execute(async (conn) => {
      await sql`create temp table money (amount numeric(78,0), count int8, amounts numeric(78,0)[], counts int8[])`.execute(conn)
      await sql`insert into money values (${twoTo255}, ${maxInt8}, ${[twoTo255.toString()]}, ${[maxInt8.toString()]})`.execute(conn)
      await sql`insert into money values (${twoTo255.toString()}, ${maxInt8.toString()}, null, null)`.execute(conn)
      // No parameters: goes through the simple protocol (PGlite's exec) rather than the extended one.
      await sql.raw(`insert into money values (${twoTo255}, ${maxInt8}, '{${twoTo255},0}', '{${maxInt8},-1}')`).execute(conn)
      const withParameter = await sql<Record<string, unknown>>`select * from money where amount = ${twoTo255.toString()}`.execute(conn)
      const withoutParameter = await sql.raw<Record<string, unknown>>('select * from money').execute(conn)
      return [...withParameter.rows, ...withoutParameter.rows]
    })
    expect(rows).toHaveLength(6)
    for (const row of rows) {
      expect(row.amount).toBe('57896044618658097711785492504343953926634992332820282019728792003956564819968')
      expect(row.count).toBe('9223372036854775807')
    }
    expect(rows[2]?.amounts).toEqual([twoTo255.toString(), '0'])
    expect(rows[2]?.counts).toEqual([maxInt8.toString(), '-1'])
    expect(rows[0]?.amounts).toEqual([twoTo255.toString()])
  })

  it('reports the rows an insert, update or delete affected', async () => {
    const inserted = await scratch.insertInto('entries').values([{ id: 100, label: 'a' }, { id: 101, label: 'b' }]).executeTakeFirstOrThrow()
    expect(inserted.numInsertedOrUpdatedRows).toBe(2n)
    const updated = await scratch.updateTable('entries').set({ label: 'c' }).where('id', '>=', 100).executeTakeFirstOrThrow()
    expect(updated.numUpdatedRows).toBe(2n)
    const deleted = await scratch.deleteFrom('entries').where('id', '>=', 100).executeTakeFirstOrThrow()
    expect(deleted.numDeletedRows).toBe(2n)
  })

  it('runs a statement marked preparedAs(name) with its parameters, as a named prepared statement on PostgreSQL', async () => {
    await scratch.insertInto('entries').values([{ id: 200, label: 'x' }, { id: 201, label: 'y' }]).execute()
    const labels = await scratch.connection().execute(async (connection) => {
      const read = (id: number) => sql<{ label: string }>`${preparedAs('test_entry_label')} select label from entries where id = ${id}`.execute(connection)
      const answers = [(await read(200)).rows, (await read(201)).rows, (await read(999)).rows]
      if (backend === 'PostgreSQL') {
        // On this connection, the statement is prepared once, under its name.
        const prepared = await sql<{ name: string }>`select name from pg_prepared_statements`.execute(connection)
        expect(prepared.rows.map((r) => r.name)).toEqual(['test_entry_label'])
      }
      return answers
    })
    expect(labels).toEqual([[{ label: 'x' }], [{ label: 'y' }], []])
    expect(() => preparedAs('Not A Name')).toThrow(/not a statement name/)
  })

  it('appends COPY text with copyIn: exact big amounts, nulls, and a malformed row fails its transaction alone', async () => {
    const columns = ['chain_id', 'tx_hash', 'log_index', 'block_number', 'block_time', 'kind', 'organization', 'amount', 'account']
    const big = (2n ** 255n).toString()
    const at = '2026-01-02T03:04:05.000Z'
    await copyIn(database.db, 'chain.payments', columns, `7\t0xaa\t0\t5\t${at}\tdeposit\t0x01\t${big}\t\\N\n7\t0xaa\t1\t5\t${at}\twithdrawal\t\\N\t1\t0x02\n`)
    const failure = await rejectionOf(database.db.transaction().execute(async (trx) => {
      await copyIn(trx, 'chain.payments', columns, `7\t0xbb\t0\t6\t${at}\tdeposit\t0x01\t5\t\\N\n`)
      await copyIn(trx, 'chain.payments', columns, `7\t0xbb\t1\t6\t${at}\tdeposit\t0x01\tnot-a-number\t\\N\n`)
    }))
    expect(failure.message).toMatch(/invalid input syntax for type numeric: "not-a-number"/)
    const rows = await database.db.selectFrom('chain.payments').select(['tx_hash', 'log_index', 'kind', 'organization', 'amount', 'account', 'block_time'])
      .where('chain_id', '=', 7).orderBy('tx_hash').orderBy('log_index').execute()
    expect(rows).toEqual([
      { tx_hash: '0xaa', log_index: 0, kind: 'deposit', organization: '0x01', amount: big, account: null, block_time: new Date(at) },
      { tx_hash: '0xaa', log_index: 1, kind: 'withdrawal', organization: null, amount: '1', account: '0x02', block_time: new Date(at) },
    ])
    await copyIn(database.db, 'chain.payments', columns, '') // nothing to send
    await database.db.deleteFrom('chain.payments').where('chain_id', '=', 7).execute()
  })

  // On PGlite (one session) this checks that the driver never interleaves two
  // transactions; on PostgreSQL, `for update` gives the same guarantee with row locks.
  it('runs concurrent read-then-write transactions without losing an update', async () => {
    await scratch.insertInto('counters').values({ id: 1, value: 0 }).execute()
    const increment = () => scratch.transaction().execute(async (trx) => {
      const { value } = await trx.selectFrom('counters').select('value').where('id', '=', 1).forUpdate().executeTakeFirstOrThrow()
      await sleep(50)
      await trx.updateTable('counters').set({ value: value + 1 }).where('id', '=', 1).execute()
    })
    await Promise.all([increment(), increment(), increment()])
    const { value } = await scratch.selectFrom('counters').select('value').where('id', '=', 1).executeTakeFirstOrThrow()
    expect(value).toBe(3)
  })

  it('rolls back a failed transaction alone, while a concurrent one commits and outside readers never see the rolled-back row', async () => {
    const failing = scratch.transaction().execute(async (trx) => {
      await trx.insertInto('entries').values({ id: 1, label: 'rolled back' }).execute()
      await sleep(50)
      throw new Error('handler failed')
    })
    await sleep(5)
    const committing = scratch.transaction().execute(async (trx) => {
      await trx.insertInto('entries').values({ id: 2, label: 'committed' }).execute()
      await sleep(20)
    })
    const outsideRead = scratch.selectFrom('entries').select('id').where('id', '=', 1).execute()
    expect((await rejectionOf(failing)).message).toBe('handler failed')
    await committing
    expect(await outsideRead).toEqual([])
    const rows = await scratch.selectFrom('entries').select(['id', 'label']).where('id', '<', 100).orderBy('id').execute()
    expect(rows).toEqual([{ id: 2, label: 'committed' }])
  })

  it('names the failed migration and the SQL error, and applies nothing of that run (one transaction)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'haithe-migrations-'))
    const fresh = await createTestDatabase({ migrate: false })
    try {
      await writeFile(join(dir, '0001_ok.sql'), 'create table ok_table (id int);\n')
      await writeFile(join(dir, '0002_broken.sql'), 'create table half_done (id int);\ncreate table broken (id int,);\n')
      const error = await rejectionOf(migrateToLatest(fresh.db, { migrationsDir: dir }))
      expect(error).toBeInstanceOf(MigrationError)
      expect(error.message).toMatch(/^migration 0002_broken failed: syntax error at or near "\)" \(line 2\)$/)
      const { rows } = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_name in ('ok_table', 'half_done')`.execute(fresh.db)
      expect(rows).toEqual([])
      const { rows: recorded } = await sql`select name from app.kysely_migration`.execute(fresh.db)
      expect(recorded).toEqual([])
    } finally {
      await fresh.cleanup()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('migrations on a brand-new database', () => {
  it.skipIf(!process.env.DATABASE_URL)(
    'two processes migrating a brand-new PostgreSQL database at once both succeed and record it once (needs DATABASE_URL: PGlite is one process)',
    async () => {
      for (let round = 0; round < 3; round++) {
        const scratch = await createScratchPostgresDatabase(process.env.DATABASE_URL!)
        // Separate pools, as two processes would have.
        const first = await createDatabase({ url: scratch.url })
        const second = await createDatabase({ url: scratch.url })
        try {
          const applied = await Promise.all([migrateToLatest(first.db), migrateToLatest(second.db)])
          expect(applied.flat()).toEqual(shippedMigrations)
          const { rows } = await sql<{ name: string }>`select name from app.kysely_migration`.execute(first.db)
          expect(rows).toEqual(shippedMigrations.map((name) => ({ name })))
        } finally {
          await Promise.all([first.destroy(), second.destroy()])
          await scratch.drop()
        }
      }
    },
  )
})

describe('connection settings', () => {
  it.skipIf(!process.env.DATABASE_URL)('applies statementTimeoutMs to every PostgreSQL connection (needs DATABASE_URL: PGlite has no statement timeout)', async () => {
    const handle = await createDatabase({ url: process.env.DATABASE_URL!, statementTimeoutMs: 200 })
    try {
      const shown = await Promise.all([1, 2, 3].map(() => handle.db.transaction().execute(async (trx) => {
        await sql`select pg_sleep(0.01)`.execute(trx)
        return (await sql<{ statement_timeout: string }>`show statement_timeout`.execute(trx)).rows[0]?.statement_timeout
      })))
      expect(shown).toEqual(['200ms', '200ms', '200ms'])
      const error = await rejectionOf(sql`select pg_sleep(2)`.execute(handle.db))
      expect(error.message).toMatch(/statement timeout/)
    } finally {
      await handle.destroy()
    }
  })
})

describe('connection failures', () => {
  function expectOneLineWithoutPassword(error: Error) {
    expect(error).toBeInstanceOf(DatabaseConnectError)
    expect(error.name).toBe('DatabaseConnectError')
    expect(error.message).not.toContain('secretpw')
    expect(error.message).not.toMatch(/\n/)
  }

  it('names the unreachable server, with the password masked', async () => {
    const error = await rejectionOf(createDatabase({ url: 'postgres://postgres:secretpw@127.0.0.1:1/x' }))
    expectOneLineWithoutPassword(error)
    expect(error.message).toBe('cannot connect to PostgreSQL at postgres://postgres:***@127.0.0.1:1/x (DATABASE_URL): connect ECONNREFUSED 127.0.0.1:1')
  })

  it('names a malformed URL, with the password masked', async () => {
    const badPort = await rejectionOf(createDatabase({ url: 'postgres://postgres:secretpw@127.0.0.1:notaport/x' }))
    expectOneLineWithoutPassword(badPort)
    expect(badPort.message).toBe('cannot connect to PostgreSQL at postgres://postgres:***@127.0.0.1:notaport/x (DATABASE_URL): not a postgres:// URL')
    const otherScheme = await rejectionOf(createDatabase({ url: 'mysql://root:secretpw@127.0.0.1/x' }))
    expectOneLineWithoutPassword(otherScheme)
    expect(otherScheme.message).toMatch(/not a postgres:\/\/ URL$/)
  })

  it('names the read URL when only the read replica is unreachable', async () => {
    const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
    const error = await rejectionOf(createDatabase({ url, readUrl: 'postgres://reader:secretpw@127.0.0.1:1/x' }))
    expectOneLineWithoutPassword(error)
    // Without a server at all (PGlite runs), the primary fails first: either way, one clear line.
    expect(error.message).toMatch(/^cannot connect to PostgreSQL at postgres:\/\/\S+ \(DATABASE(_READ)?_URL\): connect ECONNREFUSED/)
  })

  it.skipIf(!process.env.DATABASE_URL)('names a database that does not exist (needs DATABASE_URL: a server to ask)', async () => {
    const url = new URL(process.env.DATABASE_URL!)
    url.password = 'secretpw'
    url.pathname = '/haithe_no_such_database'
    const error = await rejectionOf(createDatabase({ url: url.toString() }))
    expectOneLineWithoutPassword(error)
    expect(error.message).toMatch(/^cannot connect to PostgreSQL at postgres:\/\/postgres:\*\*\*@[^ ]+\/haithe_no_such_database \(DATABASE_URL\): database "haithe_no_such_database" does not exist$/)
  })
})

describe('embedded PGlite on disk', () => {
  it('keeps its data across close and reopen, creating the directory when missing', async () => {
    const root = await mkdtemp(join(tmpdir(), 'haithe-pglite-'))
    const dir = join(root, 'nested', 'data')
    try {
      const first = await createDatabase({ pgliteDir: dir })
      expect(first.kind).toBe('pglite')
      expect(await migrateToLatest(first.db)).toEqual(shippedMigrations)
      await sql`create table app.kept (amount numeric(78,0))`.execute(first.db)
      await sql`insert into app.kept values (${(2n ** 255n).toString()})`.execute(first.db)
      await first.destroy()

      const second = await createDatabase({ pgliteDir: dir })
      try {
        expect(await migrateToLatest(second.db)).toEqual([])
        const { rows } = await sql<{ amount: string }>`select amount from app.kept`.execute(second.db)
        expect(rows).toEqual([{ amount: (2n ** 255n).toString() }])
      } finally {
        await second.destroy()
      }
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('names a data directory it cannot create', async () => {
    const root = await mkdtemp(join(tmpdir(), 'haithe-pglite-'))
    try {
      await mkdir(join(root, 'occupied'))
      await writeFile(join(root, 'occupied', 'file'), 'not a directory')
      const error = await rejectionOf(createDatabase({ pgliteDir: join(root, 'occupied', 'file', 'data') }))
      expect(error).toBeInstanceOf(DatabaseConnectError)
      expect(error.message).toMatch(/^cannot connect to embedded PGlite database at \S+: .*ENOTDIR/)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
