/**
 * One server of `npm run bench:api`, in its own process so that the load generator (in the
 * parent) and the server never share an event loop:
 *
 *   node --import tsx bench/support/api-server.ts <mode>
 *
 * Modes:
 *   koa-hello      a bare Koa app answering {"hello":"world"} on GET / (the baseline)
 *   rest-cached    the read API's Koa server (createApiServer, every middleware, config.api with
 *                  the rate limits raised out of the way) over the reads wired as startReads
 *                  wires them: hot cache invalidated by the indexer's NOTIFY, live feed
 *   rest-uncached  the same server, the reads going to PostgreSQL every time (createReads without cache)
 *   grpc-cached    createGrpcServer over the cached reads, wired the same way
 *   grpc-uncached  createGrpcServer over uncached reads
 *
 * Environment: BENCH_SERVER_DATABASE_URL (the indexed database; not for koa-hello),
 * BENCH_SERVER_LOG_LEVEL (default warn: the access log's line per request is at info).
 *
 * Prints one line `{"benchServer":"ready","port":N}` on stdout when it answers; on SIGTERM or
 * when its stdin closes (the parent went away) it prints `{"benchServer":"exit","peakRssMb":M}`
 * and exits. Other stdout lines (logs) are to be ignored by the reader.
 */
import { createServer } from 'node:http'
import Koa from 'koa'
import type { ReadContext } from '../../src/read/index.js'

const SERVER_MODES = ['koa-hello', 'rest-cached', 'rest-uncached', 'grpc-cached', 'grpc-uncached'] as const
type ServerMode = (typeof SERVER_MODES)[number]

const HOST = '127.0.0.1'
/** High enough that the rate limiter counts every request but never refuses one. */
const UNLIMITED_PER_MINUTE = 1_000_000_000

const say = (event: 'ready' | 'exit', fields: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ benchServer: event, ...fields })}\n`)

function exitWithRss(): never {
  // ru_maxrss: the peak resident set size of this process, in kilobytes on Linux.
  say('exit', { peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) })
  process.exit(0)
}

async function serveKoaHello(): Promise<number> {
  const app = new Koa()
  app.use((c) => {
    if (c.method === 'GET' && c.path === '/') c.body = { hello: 'world' }
  })
  const server = createServer(app.callback())
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
  const address = server.address()
  return typeof address === 'object' && address ? address.port : 0
}

async function serveReads(mode: Exclude<ServerMode, 'koa-hello'>): Promise<number> {
  // Loaded here, not at the top: the koa-hello process holds Koa and nothing else.
  const [{ createApiServer }, { createHotCache, listenForIndexNotifications }, { loadConfig }, { createContext }, { createDatabase }, { createGrpcServer }, { createEventFeed, createReads }] = await Promise.all([
    import('../../src/api/index.js'), import('../../src/cache/index.js'), import('../../src/config/index.js'), import('../../src/context.js'),
    import('../../src/db/index.js'), import('../../src/grpc/index.js'), import('../../src/read/index.js'),
  ])
  const url = process.env.BENCH_SERVER_DATABASE_URL
  if (!url) throw new Error('BENCH_SERVER_DATABASE_URL is not set')
  const config = loadConfig({
    env: { HAITHE_CHAIN: 'devnet', DATABASE_URL: url, LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn', LOG_FORMAT: 'json' },
    overrides: { api: { rateLimit: { anonymousPerMinute: UNLIMITED_PER_MINUTE, identifiedPerMinute: UNLIMITED_PER_MINUTE } } },
  })
  const ctx = createContext(config, `bench-${mode}`)
  const database = await createDatabase({ url, statementTimeoutMs: config.database.statementTimeoutMs, logger: ctx.logger })
  const chainId = config.chain.chainId
  const readCtx: ReadContext = { db: database.readDb, chainId }

  // As startReads (src/commands/api.ts) wires them: the hot cache invalidated by the indexer's
  // NOTIFY, the live feed; uncached, the same without the cache. Each mode serves one protocol.
  const cache = mode.endsWith('-cached') ? createHotCache({ ...config.api.cache, metrics: ctx.metrics }) : undefined
  const notifications = await listenForIndexNotifications(database, chainId, { ...(cache ? { cache } : {}), logger: ctx.logger })
  const reads = createReads(readCtx, cache)
  const feed = createEventFeed(readCtx, notifications)
  if (mode === 'rest-cached' || mode === 'rest-uncached') {
    const api = createApiServer(ctx, { api: config.api, redisUrl: null })
    const { port } = await api.listen(HOST, 0)
    api.serveReads(reads, feed)
    return port
  }
  const grpc = createGrpcServer({ reads, feed, logger: ctx.logger, metrics: ctx.metrics })
  const { port } = await grpc.listen(HOST, 0)
  return port
}

const mode = process.argv[2] as ServerMode
if (!SERVER_MODES.includes(mode)) {
  console.error(`usage: api-server.ts <${SERVER_MODES.join('|')}>`)
  process.exit(2)
}
process.on('SIGTERM', exitWithRss)
process.on('SIGINT', exitWithRss)
process.stdin.on('close', exitWithRss).resume()
try {
  const port = mode === 'koa-hello' ? await serveKoaHello() : await serveReads(mode)
  say('ready', { mode, port })
} catch (error) {
  console.error(`bench api-server (${mode}) failed to start:`, error)
  process.exit(1)
}
