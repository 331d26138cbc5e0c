/**
 * The indexed dataset of `npm run bench:api`: `events` events put on a fresh anvil by
 * simulateEvents (as bench/indexer.ts does), indexed by a `haithe indexer` child process into a
 * fresh PostgreSQL database `haithe_bench_<hex>`; anvil and the indexer are stopped once the
 * index has reached the chain's head (the read API does not need the chain). The number of
 * events is kept in the database's comment, so a kept database can be reused by a later run.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import pg from 'pg'
import { pino } from 'pino'
import { ANVIL_DEPLOYER_KEY, createChainPublicClient, createChainWalletClient, deployContracts, startAnvil, toViemChain } from '../../src/chain/index.js'
import { loadConfig, packageRoot } from '../../src/config/index.js'
import { createMarketChain, simulateEvents } from '../../src/devnet/index.js'

export interface Dataset {
  name: string
  /** postgres:// URL of the dataset's database. */
  url: string
  /** Events on the chain that was indexed (the simulated ones and the deployment's). */
  events: number
}

/** Things to undo at the end of the run, last added first; also run on Ctrl-C. */
export interface Cleanup {
  add(name: string, undo: () => Promise<void> | void): void
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(url)
  client.on('error', () => {}) // a database dropped with force ends its sessions
  await client.connect()
  try {
    return await run(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** An existing dataset (BENCH_REUSE_DB): its events from its comment, when a run of this bench made it. */
export async function reuseDataset(serverUrl: string, name: string): Promise<Dataset> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`BENCH_REUSE_DB: "${name}" is not a plain database name`)
  const url = databaseUrl(serverUrl, name)
  const comment = await withClient(serverUrl, async (admin) => {
    const { rows } = await admin.query<{ comment: string | null }>(
      'select shobj_description(oid, \'pg_database\') as comment from pg_database where datname = $1', [name])
    if (!rows[0]) throw new Error(`BENCH_REUSE_DB: no database ${name} on ${new URL(serverUrl).host}`)
    return rows[0].comment
  })
  let events = Number((JSON.parse(comment ?? '{}') as { events?: number }).events ?? Number.NaN)
  if (!Number.isFinite(events)) {
    // Not made by this bench: the indexed rows are the next best count.
    events = await withClient(url, async (db) => Number((await db.query<{ n: string }>(
      'select (select count(*) from chain.payments) + (select count(*) from chain.token_transfers) as n')).rows[0]!.n))
  }
  return { name, url, events }
}

/** Simulates `events` events on a fresh anvil and indexes them into a fresh database (dropped by `cleanup` unless `keep`). */
export async function createDataset(options: { serverUrl: string; events: number; keep: boolean; cleanup: Cleanup }): Promise<Dataset> {
  const { serverUrl, cleanup } = options
  const config = loadConfig({ env: {} })
  const name = `haithe_bench_${randomBytes(4).toString('hex')}`
  const url = databaseUrl(serverUrl, name)

  const anvil = await startAnvil()
  let anvilStopped = false
  const stopAnvil = async () => {
    if (anvilStopped) return
    anvilStopped = true
    await anvil.stop()
  }
  cleanup.add('anvil', stopAnvil)

  const viemChain = toViemChain({ ...config.chain, rpcUrl: anvil.rpcUrl, explorerUrl: undefined })
  const publicClient = createChainPublicClient(anvil.rpcUrl, viemChain)
  const deployment = await deployContracts({ publicClient, walletClient: createChainWalletClient(anvil.rpcUrl, viemChain, ANVIL_DEPLOYER_KEY) })
  const market = createMarketChain({ rpcUrl: anvil.rpcUrl, chain: viemChain, deployment, serverKey: ANVIL_DEPLOYER_KEY })
  console.log(`dataset: simulating ${fmt(options.events)} events on anvil ...`)
  const simulated = await simulateEvents({ chain: market, seed: 1, events: options.events, logger: pino({ level: 'warn' }) })
  const head = Number(await publicClient.getBlockNumber({ cacheTime: 0 }))
  const events = simulated.events + 4 // + the deployment's own logs
  console.log(`  ${fmt(simulated.events)} events in ${fmt(simulated.transactions)} transactions, ${head} blocks (${simulated.seconds.toFixed(1)} s)`)

  await withClient(serverUrl, async (admin) => {
    await admin.query(`create database ${name}`)
    await admin.query(`comment on database ${name} is '${JSON.stringify({ events, bench: 'api' })}'`)
  })
  if (options.keep) {
    cleanup.add('database (kept)', () => console.log(`kept database ${name}: rerun with BENCH_REUSE_DB=${name}; drop it with: psql -h 127.0.0.1 -U postgres -c 'drop database ${name}'`))
  } else {
    cleanup.add(`database ${name}`, () => withClient(serverUrl, async (admin) => void (await admin.query(`drop database if exists ${name} with (force)`))))
  }

  console.log(`dataset: indexing into ${name} with \`haithe indexer\` ...`)
  const started = performance.now()
  const indexer: ChildProcess = spawn(process.execPath, [path.join(packageRoot(), 'bin/haithe.js'), 'indexer'], {
    env: { ...process.env, NODE_OPTIONS: '', HAITHE_CHAIN: 'devnet', BLOCKCHAIN_PROVIDER_URL: anvil.rpcUrl, DATABASE_URL: url, INDEXER_PORT: '0', LOG_FORMAT: 'json', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', PORT: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const stopIndexer = async () => {
    if (indexer.exitCode !== null || indexer.signalCode !== null) return
    const exited = new Promise((resolve) => indexer.once('exit', resolve))
    indexer.kill('SIGTERM')
    const timer = setTimeout(() => indexer.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
  cleanup.add('indexer', stopIndexer)

  await withClient(url, async (db) => {
    for (;;) {
      const { rows } = await db.query<{ block_number: string }>('select block_number from chain.checkpoints').catch(() => ({ rows: [] as { block_number: string }[] }))
      if (rows[0] && Number(rows[0].block_number) >= head) break
      if (indexer.exitCode !== null) throw new Error(`the indexer exited with ${indexer.exitCode} before reaching block ${head}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  })
  const seconds = (performance.now() - started) / 1000
  console.log(`  indexed to block ${head} in ${seconds.toFixed(1)} s (${fmt(events / seconds)} events/s)`)
  await stopIndexer()
  await stopAnvil()
  return { name, url, events }
}

/** The address of the creator with the most revenue (all time): the subject of the revenue series. */
export async function topCreator(url: string): Promise<string> {
  return withClient(url, async (db) => {
    const { rows } = await db.query<{ address: string }>('select address from chain.creators order by revenue desc, token_id limit 1')
    if (!rows[0]) throw new Error('the dataset has no creator')
    return rows[0].address
  })
}

/** Analyzes the tables the benchmarked reads use (autovacuum may not have yet after the backfill). */
export async function analyze(url: string): Promise<void> {
  await withClient(url, (db) => db.query('analyze'))
}
