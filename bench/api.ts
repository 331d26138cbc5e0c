/**
 * `npm run bench:api`: the read API under load, over at least 1,000,000 indexed events in a real
 * PostgreSQL, against a bare Koa "hello" measured in the same run.
 *
 *   1. Dataset: BENCH_EVENTS events on a fresh anvil (simulateEvents, as bench/indexer.ts),
 *      indexed by a `haithe indexer` child into a fresh database `haithe_bench_<hex>` on
 *      BENCH_DATABASE_URL; anvil and the indexer are stopped once the index reaches the head.
 *   2. Each server in its own child process (bench/support/api-server.ts), one at a time:
 *      koa-hello, REST cached, REST uncached, gRPC cached, gRPC uncached. The Koa one stays up,
 *      idle, and is measured again just before gRPC cached: each ratio compares adjacent runs.
 *   3. Three reads: the 24 h creator leaderboard by revenue, the product list by revenue (20),
 *      and the daily revenue series of the top creator. Per server: a warm-up, a maximum
 *      throughput run rotating among the three (closed loop: autocannon for HTTP, N calls in
 *      flight with the generated @grpc/grpc-js clients for gRPC), then one such run per read;
 *      for the uncached servers also a fixed-rate run at BENCH_RATE req/s over the three (an
 *      open loop, latency from each request's due time; see bench/support/load.ts for why not
 *      autocannon's overallRate). The bare Koa gets the same fixed-rate run: the floor of what
 *      this machine can show.
 *   4. Prints a table (req/s, p50/p95/p99/max ms, failed answers, connection errors, the server's
 *      CPU time per request, and where the CPU went: server, load generator, PostgreSQL, other
 *      processes), the ratios (by req/s and by server CPU per request, the latter less shaken by
 *      a busy machine) and the goals, then one JSON line.
 *
 * The dataset's shape: simulateEvents settles a small market (10 creators, 40 products) within
 * minutes, so the aggregates these reads use stay tiny (a few hourly and daily rows) whatever
 * BENCH_EVENTS is; the events' volume is in chain.payments, which these three reads do not scan.
 *
 * Goals: cached reads at least 0.6 of the bare Koa throughput; uncached reads p99 under 50 ms at
 * 1,000 req/s. On a shared 2-core machine the load generator and the server split the cores:
 * the figures are noisy, and a closed-loop client (autocannon, grpc-js) takes a core of its own.
 *
 * Knobs (environment):
 *   BENCH_EVENTS          events to simulate and index (default 1,000,000)
 *   BENCH_DATABASE_URL    the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres);
 *                         the bench creates haithe_bench_<hex> there and drops it at the end (also on
 *                         failure and Ctrl-C)
 *   BENCH_KEEP_DB=1       keep the database it made (prints its name) for BENCH_REUSE_DB
 *   BENCH_REUSE_DB=<name> use that already indexed database (no anvil, no indexing; not dropped)
 *   BENCH_SECONDS         seconds per measured run (default 10)
 *   BENCH_WARMUP_SECONDS  seconds of warm-up per server (default 2)
 *   BENCH_CONNECTIONS     HTTP connections / gRPC calls in flight in the closed loops (default 50)
 *   BENCH_RATE            requests per second of the fixed-rate runs (default 1000)
 *   BENCH_PER_READ=0      skip the per-read maximum throughput runs (only the rotating ones)
 *   BENCH_SERVER_LOG_LEVEL  the servers' log level (default warn; at info the access log writes a
 *                         line per request to the pipe the bench reads)
 *   BENCH_SERVER_NODE_ARGS  node flags for the servers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
 *   BENCH_LOG_LEVEL       the indexer's log level (default warn)
 */
import { spawn } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { createInterface } from 'node:readline'
import path from 'node:path'
import { credentials, status as grpcStatus, type ServiceError } from '@grpc/grpc-js'
import { packageRoot } from '../src/config/index.js'
import { AnalyticsServiceClient, MarketplaceServiceClient } from '../src/grpc/index.js'
import { startCpuMeter, type CpuShare } from './support/cpu.js'
import { analyze, createDataset, reuseDataset, topCreator, type Cleanup, type Dataset } from './support/dataset.js'
import { httpGetter, maxCalls, maxHttp, paced, type LoadResult, type Outcome } from './support/load.js'

const env = process.env
const knobs = {
  events: Number(env.BENCH_EVENTS ?? 1_000_000),
  serverUrl: env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  keep: env.BENCH_KEEP_DB === '1',
  reuse: env.BENCH_REUSE_DB || undefined,
  seconds: Number(env.BENCH_SECONDS ?? 10),
  warmup: Number(env.BENCH_WARMUP_SECONDS ?? 2),
  connections: Number(env.BENCH_CONNECTIONS ?? 50),
  rate: Number(env.BENCH_RATE ?? 1000),
  perRead: env.BENCH_PER_READ !== '0',
}
const CACHED_GOAL = 0.6
const P99_GOAL_MS = 50

// ---- cleanup, also on Ctrl-C --------------------------------------------------------------
const undo: { name: string; run: () => Promise<void> | void }[] = []
const cleanup: Cleanup = { add: (name, run) => void undo.push({ name, run }) }
let cleaning: Promise<void> | undefined
const runCleanup = () =>
  (cleaning ??= (async () => {
    for (const { name, run } of undo.reverse()) {
      try {
        await run()
      } catch (error) {
        console.error(`cleanup: ${name} failed: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
  })())
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: cleaning up ...`)
    void runCleanup().finally(() => process.exit(130))
  })
}

// ---- the servers ------------------------------------------------------------------------
type Mode = 'koa-hello' | 'rest-cached' | 'rest-uncached' | 'grpc-cached' | 'grpc-uncached'
interface RunningServer { port: number; pid: number | undefined; stop(): Promise<number | undefined> }

async function startServer(mode: Mode, dataset: Dataset): Promise<RunningServer> {
  const nodeArgs = (env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(packageRoot(), 'bench/support/api-server.ts'), mode], {
    cwd: packageRoot(),
    env: { ...env, NODE_OPTIONS: '', BENCH_SERVER_DATABASE_URL: dataset.url },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  let peakRssMb: number | undefined
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{"benchServer"')) return
      const message = JSON.parse(line) as { benchServer: string; port?: number; peakRssMb?: number }
      if (message.benchServer === 'ready') resolve(message.port!)
      if (message.benchServer === 'exit') peakRssMb = message.peakRssMb
    })
    void exited.then(() => reject(new Error(`the ${mode} server exited before it was ready`)))
  })
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    return peakRssMb
  }
  cleanup.add(`${mode} server`, async () => void (await stop()))
  return { port, pid: child.pid, stop }
}

// ---- figures ----------------------------------------------------------------------------
const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-')
const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : '-')
const round = (n: number, digits = 2) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null)

function printHeader() {
  console.log(`\n${'run'.padEnd(54)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p95 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'max ms'.padStart(9)}${'failed'.padStart(8)}${'errors'.padStart(8)}  srv µs/req   cpu % of a core: server/load generator/postgres/other`)
}

/** The server's CPU time per answered request: a figure less shaken by other load on the machine than req/s. */
const serverMicros = (result: Measured) => (result.cpu.server / 100) * 1e6 / result.rps

function printResult(result: Measured) {
  const { cpu } = result
  const flagged = result.failed + result.errors > 0
  const shares = `${fmt(cpu.server)}/${fmt(cpu.generator)}/${fmt(cpu.postgres)}/${fmt(cpu.other)}`
  console.log(`${result.name.padEnd(54)}${fmt(result.rps).padStart(9)}${ms(result.p50).padStart(9)}${ms(result.p95).padStart(9)}${ms(result.p99).padStart(9)}${ms(result.max).padStart(9)}${String(result.failed).padStart(8)}${String(result.errors).padStart(8)}${fmt(serverMicros(result)).padStart(13)}   ${shares}${flagged ? '  <-- NOT ALL 2xx/OK' : ''}`)
  if (result.behindMs === undefined && cpu.generator > cpu.server) console.log(`${''.padEnd(4)}the load generator used more CPU than the server: this req/s is partly the client's limit (see srv µs/req)`)
  if (result.behindMs !== undefined && result.behindMs > 5) console.log(`${''.padEnd(4)}the load generator sent up to ${ms(result.behindMs)} ms late (its own event loop was held up; the latencies include it)`)
  if (flagged) console.log(`${''.padEnd(4)}answers: ${Object.entries(result.statuses).map(([s, n]) => `${s}=${n}`).join(' ')}, connection errors/timeouts: ${result.errors}`)
  for (const read of result.perEndpoint ?? []) {
    console.log(`${`  · ${read.name}`.padEnd(54)}${fmt(read.requests / result.seconds).padStart(9)}${ms(read.p50).padStart(9)}${ms(read.p95).padStart(9)}${ms(read.p99).padStart(9)}`)
  }
}

// ---- the run ----------------------------------------------------------------------------
type Call = { name: string; run(): Promise<Outcome> }

type Measured = LoadResult & { cpu: CpuShare }
const results: Record<string, Measured> = {}
const rss: Partial<Record<Mode, number>> = {}
/** Runs one measured load against `server`, prints and keeps its figures. */
const measure = async (key: string, server: RunningServer, run: () => Promise<LoadResult>) => {
  const stopMeter = startCpuMeter(server.pid)
  const result = { ...(await run()), cpu: stopMeter() }
  results[key] = result
  printResult(result)
  return result
}

try {
  let dataset: Dataset
  if (knobs.reuse) {
    dataset = await reuseDataset(knobs.serverUrl, knobs.reuse)
    console.log(`dataset: reusing ${dataset.name} (${fmt(dataset.events)} events)`)
  } else {
    dataset = await createDataset({ serverUrl: knobs.serverUrl, events: knobs.events, keep: knobs.keep, cleanup })
  }
  await analyze(dataset.url)
  const creator = await topCreator(dataset.url)
  const reads = [
    { name: 'leaderboard creators 24h revenue', path: '/v1/leaderboards/creators?window=24h&metric=revenue' },
    { name: 'products by revenue, 20', path: '/v1/products?sort=revenue&limit=20' },
    { name: 'top creator revenue by day', path: `/v1/creators/${creator}/revenue?granularity=day` },
  ]
  const paths = reads.map((r) => r.path)
  console.log(`reads: ${paths.join('  ')}`)
  console.log(`runs of ${knobs.seconds} s after ${knobs.warmup} s of warm-up, ${knobs.connections} connections / calls in flight; fixed rate ${fmt(knobs.rate)} req/s`)

  // Bare Koa; it stays up (idle) to be measured again just before gRPC cached, so that each
  // ratio compares runs minutes, not a quarter of an hour, apart on a machine others share.
  const koaServer = await startServer('koa-hello', dataset)
  const koaMax = (name: string) => maxHttp({ name, port: koaServer.port, paths: ['/'], connections: knobs.connections, seconds: knobs.seconds })
  {
    await maxHttp({ name: 'warm-up', port: koaServer.port, paths: ['/'], connections: knobs.connections, seconds: knobs.warmup })
    printHeader()
    // The floor of the fixed-rate latencies on this machine: the same open loop against a server doing nothing.
    const http = httpGetter(koaServer.port, knobs.connections)
    await measure('koa:rate', koaServer, () => paced({ name: `koa-hello GET / at ${fmt(knobs.rate)} req/s`, calls: [{ name: '/', run: () => http.get('/') }], rate: knobs.rate, seconds: knobs.seconds }))
    http.close()
    await measure('koa', koaServer, () => koaMax('koa-hello GET / (max)'))
  }

  // REST, cached then uncached.
  for (const mode of ['rest-cached', 'rest-uncached'] as const) {
    const server = await startServer(mode, dataset)
    const http = httpGetter(server.port, knobs.connections)
    // Every read answers 200 with something in it, or the figures mean nothing.
    const sizes: string[] = []
    for (const read of reads) {
      const response = await fetch(`http://127.0.0.1:${server.port}${read.path}`)
      const body = (await response.json()) as unknown[] | { items: unknown[] }
      if (response.status !== 200) throw new Error(`${mode}: GET ${read.path} answered ${response.status}: ${JSON.stringify(body)}`)
      sizes.push(`${Array.isArray(body) ? body.length : body.items.length} ${Array.isArray(body) ? 'entries' : 'items'}`)
    }
    if (mode === 'rest-cached') console.log(`\nanswers: ${reads.map((r, i) => `${r.name}: ${sizes[i]}`).join('; ')}`)
    await maxHttp({ name: 'warm-up', port: server.port, paths, connections: knobs.connections, seconds: knobs.warmup })
    await measure(mode, server, () => maxHttp({ name: `${mode} 3 reads rotating (max)`, port: server.port, paths, names: reads.map((r) => r.name), connections: knobs.connections, seconds: knobs.seconds }))
    if (knobs.perRead) {
      for (const read of reads) {
        await measure(`${mode}:${read.name}`, server, () => maxHttp({ name: `${mode} ${read.name} (max)`, port: server.port, paths: [read.path], connections: knobs.connections, seconds: knobs.seconds }))
      }
    }
    if (mode === 'rest-uncached') {
      const calls: Call[] = reads.map((read) => ({ name: read.name, run: () => http.get(read.path) }))
      await measure(`${mode}:rate`, server, () => paced({ name: `${mode} 3 reads at ${fmt(knobs.rate)} req/s`, calls, rate: knobs.rate, seconds: knobs.seconds }))
    }
    http.close()
    rss[mode] = await server.stop()
  }

  // gRPC, cached then uncached.
  console.log('')
  await measure('koa:grpc', koaServer, () => koaMax('koa-hello GET / (max, again before gRPC)'))
  rss['koa-hello'] = await koaServer.stop()
  for (const mode of ['grpc-cached', 'grpc-uncached'] as const) {
    const server = await startServer(mode, dataset)
    const target = `127.0.0.1:${server.port}`
    const analytics = new AnalyticsServiceClient(target, credentials.createInsecure())
    const marketplace = new MarketplaceServiceClient(target, credentials.createInsecure())
    const answer = (invoke: (done: (error: ServiceError | null) => void) => void) =>
      new Promise<Outcome>((resolve) => invoke((error) => resolve({ status: error ? (grpcStatus[error.code] ?? String(error.code)) : 'ok' })))
    const calls: Call[] = [
      { name: reads[0]!.name, run: () => answer((done) => analytics.getCreatorLeaderboard({ metric: 'revenue', window: '24h', limit: undefined }, done)) },
      { name: reads[1]!.name, run: () => answer((done) => marketplace.listProducts({ sort: 'revenue', limit: 20, cursor: '', category: '', creator: '', q: '' }, done)) },
      { name: reads[2]!.name, run: () => answer((done) => analytics.getCreatorRevenue({ address: creator, granularity: 'day', from: '', to: '' }, done)) },
    ]
    for (const call of calls) {
      const outcome = await call.run()
      if (outcome.status !== 'ok') throw new Error(`${mode}: ${call.name} answered ${outcome.status}`)
    }
    await maxCalls({ name: 'warm-up', calls, concurrency: knobs.connections, seconds: knobs.warmup })
    await measure(mode, server, () => maxCalls({ name: `${mode} 3 reads rotating (max)`, calls, concurrency: knobs.connections, seconds: knobs.seconds }))
    if (knobs.perRead) {
      for (const call of calls) {
        await measure(`${mode}:${call.name}`, server, () => maxCalls({ name: `${mode} ${call.name} (max)`, calls: [call], concurrency: knobs.connections, seconds: knobs.seconds }))
      }
    }
    if (mode === 'grpc-uncached') {
      await measure(`${mode}:rate`, server, () => paced({ name: `${mode} 3 reads at ${fmt(knobs.rate)} req/s`, calls, rate: knobs.rate, seconds: knobs.seconds }))
    }
    analytics.close()
    marketplace.close()
    rss[mode] = await server.stop()
  }

  // Ratios, goals, the JSON line.
  const koa = results.koa!.rps
  const koaForGrpc = results['koa:grpc']!.rps
  const restCached = results['rest-cached']!
  const restUncached = results['rest-uncached']!
  const grpcCached = results['grpc-cached']!
  const grpcUncached = results['grpc-uncached']!
  const restRate = results['rest-uncached:rate']!
  const grpcRate = results['grpc-uncached:rate']!
  const failed = Object.values(results).reduce((n, r) => n + r.failed + r.errors, 0)
  const serverRss = Math.max(...(['rest-cached', 'rest-uncached', 'grpc-cached', 'grpc-uncached'] as const).map((m) => rss[m] ?? 0))
  console.log(`\nratios to bare Koa: REST cached ${(restCached.rps / koa).toFixed(2)}, REST uncached ${(restUncached.rps / koa).toFixed(2)} (to ${fmt(koa)} req/s); gRPC cached ${(grpcCached.rps / koaForGrpc).toFixed(2)}, gRPC uncached ${(grpcUncached.rps / koaForGrpc).toFixed(2)} (to ${fmt(koaForGrpc)} req/s, measured just before)`)
  console.log(`goal cached ≥ ${CACHED_GOAL} × Koa: REST ${restCached.rps / koa >= CACHED_GOAL ? 'met' : 'MISSED'} (${(restCached.rps / koa).toFixed(2)}), gRPC ${grpcCached.rps / koaForGrpc >= CACHED_GOAL ? 'met' : 'MISSED'} (${(grpcCached.rps / koaForGrpc).toFixed(2)})`)
  const floor = results['koa:rate']!
  console.log(`fixed rate ${fmt(knobs.rate)} req/s against bare Koa (the floor on this machine): p50 ${ms(floor.p50)} ms, p95 ${ms(floor.p95)} ms, p99 ${ms(floor.p99)} ms`)
  console.log(`goal uncached p99 < ${P99_GOAL_MS} ms at ${fmt(knobs.rate)} req/s: REST ${restRate.p99 < P99_GOAL_MS ? 'met' : 'MISSED'} (${ms(restRate.p99)} ms, ${fmt(restRate.rps)} req/s done), gRPC ${grpcRate.p99 < P99_GOAL_MS ? 'met' : 'MISSED'} (${ms(grpcRate.p99)} ms, ${fmt(grpcRate.rps)} req/s done)`)
  const koaMicros = (serverMicros(results.koa!) + serverMicros(results['koa:grpc']!)) / 2
  const cpuRatio = (r: Measured) => koaMicros / serverMicros(r)
  console.log(`server CPU per request: Koa ${fmt(koaMicros)} µs; REST cached ${fmt(serverMicros(restCached))} µs (ratio ${cpuRatio(restCached).toFixed(2)}), gRPC cached ${fmt(serverMicros(grpcCached))} µs (ratio ${cpuRatio(grpcCached).toFixed(2)}); uncached REST ${fmt(serverMicros(restUncached))} µs, gRPC ${fmt(serverMicros(grpcUncached))} µs`)
  const others = Object.values(results).map((r) => r.cpu.other)
  const otherLoad = others.reduce((a, b) => a + b, 0) / others.length
  console.log(`other processes on the machine used ${fmt(otherLoad)} % of a core on average during the runs (of ${availableParallelism() * 100} %)`)
  console.log(`server peak RSS: ${Object.entries(rss).map(([m, mb]) => `${m} ${mb ?? '-'} MB`).join(', ')}`)
  if (failed > 0) console.log(`WARNING: ${fmt(failed)} requests were not answered 2xx/OK (see the flagged runs)`)

  console.log(JSON.stringify({
    bench: 'api',
    events: dataset.events,
    seconds_per_run: knobs.seconds,
    connections: knobs.connections,
    koa_hello_rps: Math.round(koa),
    rest_cached_rps: Math.round(restCached.rps),
    rest_cached_ratio: round(restCached.rps / koa),
    rest_cached_p99_ms: round(restCached.p99),
    rest_uncached_rps: Math.round(restUncached.rps),
    rest_uncached_p99_ms: round(restUncached.p99),
    uncached_1000rps_p50_ms: round(restRate.p50),
    uncached_1000rps_p95_ms: round(restRate.p95),
    uncached_1000rps_p99_ms: round(restRate.p99),
    uncached_1000rps_done_rps: Math.round(restRate.rps),
    koa_hello_1000rps_p50_ms: round(floor.p50),
    koa_hello_1000rps_p99_ms: round(floor.p99),
    grpc_cached_rps: Math.round(grpcCached.rps),
    grpc_cached_ratio: round(grpcCached.rps / koaForGrpc),
    koa_hello_rps_before_grpc: Math.round(koaForGrpc),
    koa_hello_server_us_per_req: Math.round(koaMicros),
    rest_cached_server_us_per_req: Math.round(serverMicros(restCached)),
    rest_cached_cpu_ratio: round(cpuRatio(restCached)),
    grpc_cached_server_us_per_req: Math.round(serverMicros(grpcCached)),
    grpc_cached_cpu_ratio: round(cpuRatio(grpcCached)),
    grpc_uncached_rps: Math.round(grpcUncached.rps),
    grpc_uncached_1000rps_p50_ms: round(grpcRate.p50),
    grpc_uncached_1000rps_p95_ms: round(grpcRate.p95),
    grpc_uncached_1000rps_p99_ms: round(grpcRate.p99),
    failed_requests: failed,
    server_peak_rss_mb: serverRss,
    other_load_cpu_pct: Math.round(otherLoad),
  }))
} finally {
  await runCleanup()
}
