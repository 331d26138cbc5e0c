/**
 * `npm run bench:indexer`: puts BENCH_EVENTS (default 1,000,000) events on a fresh anvil,
 * then in the same run measures
 *   1. fetch only: the same logs fetched with the indexer's own fetcher (no decoding, no writing);
 *   2. backfill: `haithe indexer` (a child process, so its peak RSS is its own) into a fresh
 *      PostgreSQL database (BENCH_DATABASE_URL, default the local server), until every block is
 *      in and the indexes it deferred are built;
 *   3. realtime: the time from a mined block to its transfer being queryable in PostgreSQL.
 * Prints readable figures and ends with one JSON line.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import pg from 'pg'
import { pino } from 'pino'
import { parseUnits } from 'viem'
import { fetchHistorical } from '../indexer/sync/historical.js'
import { createRangeSizer } from '../indexer/sync/ranges.js'
import { createRpcClient } from '../indexer/sync/rpc.js'
import { startAnvil, testUSDTAbi, toViemChain } from '../src/chain/index.js'
import { loadConfig, packageRoot } from '../src/config/index.js'
import { createMarketChain, simulateEvents } from '../src/devnet/index.js'
import { ANVIL_DEPLOYER_KEY, createChainPublicClient, createChainWalletClient, deployContracts } from '../src/chain/index.js'

const events = Number(process.env.BENCH_EVENTS ?? 1_000_000)
const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const config = loadConfig({ env: {} })
const tuning = config.indexer
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

const anvil = await startAnvil()
const dbName = `haithe_bench_${randomBytes(4).toString('hex')}`
const admin = new pg.Client(serverUrl)
let child: ReturnType<typeof spawn> | undefined
try {
  // 0. The chain.
  const viemChain = toViemChain({ ...config.chain, rpcUrl: anvil.rpcUrl, explorerUrl: undefined })
  const publicClient = createChainPublicClient(anvil.rpcUrl, viemChain)
  const deployment = await deployContracts({ publicClient, walletClient: createChainWalletClient(anvil.rpcUrl, viemChain, ANVIL_DEPLOYER_KEY) })
  const market = createMarketChain({ rpcUrl: anvil.rpcUrl, chain: viemChain, deployment, serverKey: ANVIL_DEPLOYER_KEY })
  console.log(`simulating ${fmt(events)} events on anvil ...`)
  const simulated = await simulateEvents({ chain: market, seed: 1, events, logger: pino({ level: 'warn' }) })
  const head = Number(await publicClient.getBlockNumber({ cacheTime: 0 }))
  const onChain = simulated.events + 4 // + the deployment's own logs
  console.log(`  ${fmt(simulated.events)} events in ${fmt(simulated.transactions)} transactions, ${head} blocks (${simulated.seconds.toFixed(1)} s)`)

  // 1. Fetch only.
  const sources = { fixed: [deployment.orchestrator, deployment.creatorIdentity, deployment.tusdt].map((a) => a.toLowerCase()) }
  const rpc = createRpcClient({ url: anvil.rpcUrl, timeoutMs: tuning.rpcTimeoutMs })
  const sizer = createRangeSizer({ initialBlocks: tuning.initialBlocks, maxBlocks: tuning.maxBlocks, targetLogs: tuning.targetLogs })
  let fetched = 0
  const fetchStart = performance.now()
  for await (const range of fetchHistorical({ rpc, sources, sizer, from: 1, to: head, concurrency: tuning.concurrency, targetLogs: tuning.targetLogs })) fetched += range.logs.length
  const fetchSeconds = (performance.now() - fetchStart) / 1000
  const fetchRate = fetched / fetchSeconds
  console.log(`fetch only: ${fmt(fetched)} logs in ${fetchSeconds.toFixed(2)} s = ${fmt(fetchRate)} logs/s`)

  // 2. Backfill by the real indexer process into a fresh database.
  await admin.connect()
  await admin.query(`create database ${dbName}`)
  const url = new URL(serverUrl)
  url.pathname = `/${dbName}`
  const db = new pg.Client(url.toString())
  await db.connect()
  db.on('error', () => {}) // the database is dropped with force at the end
  const started = performance.now()
  child = spawn(process.execPath, [path.join(packageRoot(), 'bin/haithe.js'), 'indexer'], {
    env: { ...process.env, NODE_OPTIONS: process.env.BENCH_INDEXER_NODE_OPTIONS ?? '', HAITHE_CHAIN: 'devnet', BLOCKCHAIN_PROVIDER_URL: anvil.rpcUrl, DATABASE_URL: url.toString(), INDEXER_PORT: '0', LOG_FORMAT: 'json', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', PORT: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const indexed = async () => {
    const { rows } = await db.query<{ block_number: string }>('select block_number from chain.checkpoints').catch(() => ({ rows: [] as { block_number: string }[] }))
    return rows[0] ? Number(rows[0].block_number) : -1
  }
  let peakRss = 0
  const sampleRss = () => {
    let status: string
    try {
      status = readFileSync(`/proc/${child!.pid}/status`, 'utf8')
    } catch {
      throw new Error(`the indexer process is gone (exit code ${child!.exitCode ?? 'unknown'}, signal ${child!.signalCode ?? 'none'}); see its output above`)
    }
    peakRss = Math.max(peakRss, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024)
  }
  // Done once every block is in and the indexes a first backfill defers are built again.
  const deferredLeft = async () => {
    const { rows } = await db.query<{ n: string }>('select count(*) as n from chain.deferred_indexes').catch(() => ({ rows: [{ n: '1' }] }))
    return Number(rows[0]!.n)
  }
  while ((await indexed()) < head || (await deferredLeft()) > 0) {
    if (child.exitCode !== null) throw new Error(`indexer exited with ${child.exitCode}`)
    sampleRss()
    await new Promise((r) => setTimeout(r, 100))
  }
  const backfillSeconds = (performance.now() - started) / 1000
  sampleRss()
  const { rows: [counted] } = await db.query<{ n: string }>(`select (select count(*) from chain.payments) + (select count(*) from chain.token_transfers) as n`)
  const eventsPerSecond = onChain / backfillSeconds
  console.log(`backfill: ${fmt(onChain)} events, ${head} blocks in ${backfillSeconds.toFixed(2)} s (process start included)`)
  console.log(`  ${fmt(eventsPerSecond)} events/s, ${fmt(head / backfillSeconds)} blocks/s, peak RSS ${fmt(peakRss / 2 ** 20)} MB; ratio to fetch only ${(eventsPerSecond / fetchRate).toFixed(2)}`)
  console.log(`  rows written: ${fmt(Number(counted!.n))} payments + transfers`)

  // 3. Realtime: a mined block's transfer, queryable how soon?
  const wallet = createChainWalletClient(anvil.rpcUrl, viemChain, ANVIL_DEPLOYER_KEY)
  const latencies: number[] = []
  for (let i = 0; i < 20; i++) {
    const to = `0x${randomBytes(20).toString('hex')}` as const
    const hash = await wallet.writeContract({ address: deployment.tusdt, abi: testUSDTAbi, functionName: 'transfer', args: [to, parseUnits('1', 18)] })
    await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 5 })
    const mined = performance.now()
    for (;;) {
      const { rowCount } = await db.query('select 1 from chain.token_transfers where to_address = $1', [to])
      if (rowCount) break
      if (performance.now() - mined > 10_000) throw new Error('realtime: block not indexed within 10 s')
      await new Promise((r) => setTimeout(r, 5))
    }
    latencies.push(performance.now() - mined)
    await new Promise((r) => setTimeout(r, 137 * (i % 5)))
  }
  latencies.sort((a, b) => a - b)
  const pollMs = config.chain.pollingIntervalMs
  console.log(`realtime: mined → queryable p50 ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms (goal: polling interval ${pollMs} ms + 100 ms)`)
  await db.end()

  console.log(JSON.stringify({
    bench: 'indexer',
    events: onChain,
    blocks: head,
    events_per_s: Math.round(eventsPerSecond),
    blocks_per_s: Math.round(head / backfillSeconds),
    fetch_only_logs_per_s: Math.round(fetchRate),
    fetch_ratio: Number((eventsPerSecond / fetchRate).toFixed(2)),
    peak_rss_mb: Math.round(peakRss / 2 ** 20),
    realtime_p50_ms: Math.round(percentile(latencies, 50)),
    realtime_p95_ms: Math.round(percentile(latencies, 95)),
    realtime_max_ms: Math.round(latencies.at(-1)!),
    polling_interval_ms: pollMs,
  }))
} finally {
  child?.kill('SIGKILL')
  await anvil.stop()
  if (admin) {
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {})
    await admin.end().catch(() => {})
  }
}
