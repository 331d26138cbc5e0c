/** `haithe api`: the read API alone (REST, WebSocket feed, gRPC), over the index another process writes. */
import { sql } from 'kysely'
import { createApiServer, type ApiServer } from '../api/index.js'
import { createHotCache, listenForIndexNotifications } from '../cache/index.js'
import type { Context } from '../context.js'
import type { DatabaseHandle } from '../db/index.js'
import { migrateToLatest } from '../db/index.js'
import { createEventFeed, createReads, getIndexerStatus, type ReadContext } from '../read/index.js'
import { createGrpcServer } from '../grpc/index.js'
import { openDatabase } from './migrate.js'

/**
 * Serves the reads over REST (the routes of `api`) and gRPC: the hot cache invalidated by the
 * indexer's NOTIFY, the live event feed, and readiness that the indexer (wherever it runs) has
 * caught up with the head.
 */
export async function startReads(
  ctx: Context, database: DatabaseHandle, chainId: number, api: ApiServer, options: { indexerInProcess?: boolean } = {},
): Promise<void> {
  const readCtx: ReadContext = { db: database.readDb, chainId }
  const cache = createHotCache({ ...ctx.config.api.cache, metrics: ctx.metrics })
  const notifications = await listenForIndexNotifications(database, chainId, { cache, logger: ctx.logger })
  ctx.shutdown.add('index notifications', () => notifications.close())
  const reads = createReads(readCtx, cache)
  const feed = createEventFeed(readCtx, notifications)
  api.serveReads(reads, feed)

  const grpc = createGrpcServer({ reads, feed, logger: ctx.logger.child({ component: 'grpc' }), metrics: ctx.metrics })
  const { port } = await grpc.listen(ctx.config.grpc.host, ctx.config.grpc.port)
  ctx.shutdown.add('gRPC server', () => grpc.close())
  ctx.logger.info(`gRPC listening on localhost:${port} (haithe.v1 Marketplace, Analytics and Indexer services; health; reflection)`)

  const indexReady = async () => {
    const status = await getIndexerStatus(readCtx)
    if (!status.ready) throw new Error(status.error ?? `indexer ${status.role}: indexed ${status.indexed ?? '-'} of head ${status.head ?? '-'}`)
    return `indexed ${status.indexed} of head ${status.head}`
  }
  // In `haithe dev` the indexer in this process has registered its own, more direct check.
  if (!options.indexerInProcess) api.addReadinessCheck({ name: 'index', check: indexReady })
  // gRPC health follows the same readiness, so a gRPC load balancer skips a replica that lags.
  grpc.setServing(false)
  const followReadiness = setInterval(() => {
    indexReady().then(() => grpc.setServing(true), () => grpc.setServing(false))
  }, 2_000)
  ctx.shutdown.add('gRPC health', () => clearInterval(followReadiness))
}

export async function runApi(ctx: Context): Promise<void> {
  const { config, logger, shutdown } = ctx
  const api = createApiServer(ctx, { api: config.api, redisUrl: config.redisUrl })
  const { port } = await api.listen(config.api.host, config.api.port)
  shutdown.add('read API', () => api.close())
  const database = await openDatabase(ctx)
  shutdown.add('database', () => database.destroy())
  await migrateToLatest(database.db, { logger })
  api.addReadinessCheck({ name: 'database', check: async () => (await sql`select 1`.execute(database.readDb), database.kind) })
  await startReads(ctx, database, config.chain.chainId, api)
  logger.info(`read API listening on http://localhost:${port} (GET /v1/..., /docs, /openapi.json, WebSocket /v1/ws)`)
}
