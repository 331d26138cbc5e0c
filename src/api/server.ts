/**
 * The read API's HTTP server: health, readiness and metrics from the moment the process starts,
 * and the /v1 routes, OpenAPI, docs and the WebSocket live feed, answering once `serveReads` hands
 * them the queries. The indexer's own health server is operations-server.ts.
 */
import { createServer, type Server } from 'node:http'
import Router from '@koa/router'
import Koa from 'koa'
import { LRUCache } from 'lru-cache'
import type { HaitheConfig } from '../config/index.js'
import type { Context } from '../context.js'
import { parseParams, type EventFeed, type Reads } from '../read/index.js'
import { renderDocsPage } from './docs-page.js'
import { addOperationsRoutes, type ReadinessCheck } from './health.js'
import { attachLiveSocket, type LiveSocket } from './live-socket.js'
import { createFastLane } from './fast-lane.js'
import {
  createAccessLog, createCallerIdentifier, createCors, createCorsPolicy, createErrorBoundary, createHttpMetrics, createRateLimit, createRequestId,
  createRequestObserver, createRequestTimeout, ApiError,
} from './middleware/index.js'
import { buildOpenApiDocument } from './openapi.js'
import { closeHttp, listenHttp } from './operations-server.js'
import { routes, type RouteSpec } from './routes.js'

export interface ApiServer {
  app: Koa
  /** Adds a readiness check; `/health/ready` is 503 until every check passes. */
  addReadinessCheck(check: ReadinessCheck): void
  /** Starts answering the /v1 routes (503 `starting` until then) and the live feed. */
  serveReads(reads: Reads, feed?: EventFeed): void
  listen(host: string, port: number): Promise<{ port: number }>
  close(): Promise<void>
}

export interface ApiServerOptions {
  /** The /v1 routes', OpenAPI's, docs' and the live feed's configuration (rate limits, CORS, timeouts). */
  api: HaitheConfig['api']
  redisUrl?: string | null
  /** Prefix of the rate limiter's keys (tests isolate themselves with it). */
  rateLimitPrefix?: string
  /** Trust X-Forwarded-For (behind a load balancer). */
  proxy?: boolean
}

const API_VERSION = '1.0.0'
/** Longer URLs are not remembered by the fast lane (they are rare, and would weigh on memory). */
const MAX_REMEMBERED_URL = 512

/** A /v1 URL that routed and parsed: the route, its raw path parameters, and their parse. */
interface ParsedUrl {
  route: RouteSpec
  rawParams: Record<string, string>
  params: unknown
  query: unknown
}

export function createApiServer(ctx: Pick<Context, 'logger' | 'metrics'>, options: ApiServerOptions): ApiServer {
  const { logger } = ctx
  const checks: ReadinessCheck[] = []
  const app = new Koa({ proxy: options.proxy ?? false })
  const router = new Router()

  addOperationsRoutes(router, checks, ctx.metrics)

  app.use(createRequestId({ logger }))
  app.use(createAccessLog({ logger }))
  app.use(createHttpMetrics({ registry: ctx.metrics }))
  app.use(createCors({ origins: options.api.corsOrigins }))
  app.use(createErrorBoundary({ logger }))
  app.use(createRequestTimeout({ timeoutMs: options.api.requestTimeoutMs, logger }))

  let reads: Reads | undefined
  let feed: EventFeed | undefined
  const rateLimit = createRateLimit({
    ...options.api.rateLimit,
    identifier: createCallerIdentifier({ apiKeys: options.api.apiKeys }),
    redisUrl: options.redisUrl ?? null,
    ...(options.rateLimitPrefix ? { keyPrefix: options.rateLimitPrefix } : {}),
    logger,
  })
  app.use(rateLimit)

  const answer = async (c: Koa.Context, route: RouteSpec, params: unknown, query: unknown) => {
    const result = await route.run(reads!, params as never, query as never)
    c.type = 'application/json'
    c.body = result.json
  }
  // The fast lane: a URL seen before (exactly as received, path and query string) whose
  // parameters parsed is answered with that parse, without routing or validating it again.
  // The same URL always routes and parses the same (the schemas depend on nothing else), and
  // only parses that succeeded are kept, so the answer is the one the router would give.
  const parsedUrls = new LRUCache<string, ParsedUrl>({ max: 4096 })
  app.use(async (c, next) => {
    if (reads && (c.method === 'GET' || c.method === 'HEAD')) {
      const parsed = parsedUrls.get(c.url)
      if (parsed) {
        // As @koa/router leaves them, for the access log, the metrics and the error boundary.
        ;(c as Koa.Context & { _matchedRoute?: string })._matchedRoute = parsed.route.path
        c.params = parsed.rawParams
        return answer(c, parsed.route, parsed.params, parsed.query)
      }
    }
    return next()
  })
  // The same URLs, for anonymous callers, without Koa at all (see fast-lane.ts).
  const fastLane = createFastLane({
    lookup: (url) => {
      const parsed = reads && parsedUrls.get(url)
      if (!parsed) return undefined
      return { route: parsed.route.path, run: () => parsed.route.run(reads!, parsed.params as never, parsed.query as never) }
    },
    rateLimit,
    cors: createCorsPolicy(options.api.corsOrigins),
    observe: createRequestObserver({ registry: ctx.metrics }),
    logger,
    proxy: options.proxy ?? false,
  })
  for (const route of routes) {
    router.get(route.path, async (c) => {
      if (!reads) throw new ApiError(503, 'starting', 'the read API is starting; try again in a moment')
      const params = route.params ? parseParams(route.params, c.params) : undefined
      const query = route.query ? parseParams(route.query, c.query) : undefined
      if (c.url.length <= MAX_REMEMBERED_URL) parsedUrls.set(c.url, { route, rawParams: c.params, params, query })
      await answer(c, route, params, query)
    })
  }
  const document = buildOpenApiDocument(routes, { version: API_VERSION })
  const openApiJson = JSON.stringify(document)
  const docsPage = renderDocsPage(document)
  router.get('/openapi.json', (c) => {
    c.type = 'application/json'
    c.body = openApiJson
  })
  router.get('/docs', (c) => {
    c.type = 'text/html; charset=utf-8'
    c.body = docsPage
  })
  app.use(router.routes()).use(router.allowedMethods())

  let server: Server | undefined
  let live: LiveSocket | undefined
  return {
    app,
    addReadinessCheck: (check) => void checks.push(check),
    serveReads(newReads, newFeed) {
      reads = newReads
      feed = newFeed
      if (server && feed && !live) live = attachLiveSocket(server, feed, logger)
    },
    listen(host, port) {
      const koa = app.callback()
      server = createServer((req, res) => {
        const toKoa = () => void koa(req, res)
        if (!fastLane(req, res, toKoa)) toKoa()
      })
      if (feed) live = attachLiveSocket(server, feed, logger)
      return listenHttp(server, host, port, { name: 'read API', setting: 'PORT' })
    },
    close: async () => {
      await live?.close()
      await closeHttp(server)
      await rateLimit.close()
    },
  }
}
