/**
 * The write path's HTTP server (`haithe gateway`): v1's `/api` routes in its envelope, with the
 * read API's middleware (request id, access log, metrics, CORS, timeout, rate limits) and
 * authentication by session JWT or API key. Health, readiness and metrics as everywhere. The
 * WebSocket JSON-RPC endpoint (/api/v1beta/ws) shares its HTTP server.
 */
import { createServer, type Server } from 'node:http'
import Router from '@koa/router'
import Koa from 'koa'
import { addOperationsRoutes, type ReadinessCheck } from '../api/health.js'
import { closeHttp, listenHttp } from '../api/operations-server.js'
import { createAccessLog, createCors, createHttpMetrics, createRateLimit, createRequestId, createRequestTimeout, type RateLimitMiddleware } from '../api/middleware/index.js'
import { createGatewayIdentifier } from './auth/authenticate.js'
import type { WriteContext } from './context.js'
import { createOrgEventHub, type ListenFn, type OrgEventHub } from './events/index.js'
import { createEnvelopeErrorBoundary, failureBody } from './http/envelope.js'
import { OPENAI_PATH_PREFIX, openAiErrorBody } from './http/openai-errors.js'
import { buildGatewayOpenApiDocument } from './http/openapi.js'
import { mountRoutes, type WriteRoute } from './http/route.js'
import { mountOpenAiRoutes } from './inference/openai-routes.js'
import { openAiPaths } from './inference/openapi-paths.js'
import { createProductLoader } from './inference/products/index.js'
import { attachRpcSocket, type RpcSocket } from './ws/index.js'

export interface GatewayServer {
  app: Koa
  addReadinessCheck(check: ReadinessCheck): void
  listen(host: string, port: number): Promise<{ port: number }>
  close(): Promise<void>
}

export interface GatewayServerOptions {
  routes: readonly WriteRoute[]
  /** Trust X-Forwarded-For (behind a load balancer). */
  proxy?: boolean
  /** Prefix of the rate limiter's keys (tests isolate themselves with it). */
  rateLimitPrefix?: string
  /** LISTEN on the primary database (`DatabaseHandle.listen`): usage and settlement events for the WebSocket's subscriptions. */
  listen?: ListenFn
}

const GATEWAY_API_VERSION = '1.0.0'

export function createGatewayServer(w: WriteContext, options: GatewayServerOptions): GatewayServer {
  const { logger, config } = w
  const checks: ReadinessCheck[] = []
  const app = new Koa({ proxy: options.proxy ?? false })
  const router = new Router()
  addOperationsRoutes(router, checks, w.metrics)

  const rateLimit: RateLimitMiddleware = createRateLimit({
    ...config.api.rateLimit,
    identifier: createGatewayIdentifier(w),
    redisUrl: config.redisUrl,
    keyPrefix: options.rateLimitPrefix ?? 'haithe:gw:rl',
    logger,
  })
  app.use(createRequestId({ logger }))
  app.use(createAccessLog({ logger }))
  app.use(createHttpMetrics({ registry: w.metrics }))
  app.use(createCors({ origins: config.api.corsOrigins, writes: true }))
  app.use(createEnvelopeErrorBoundary({ logger }))
  // Inference calls may stream for minutes: their own, longer timeout (and OpenAI's error shape).
  const timeout = createRequestTimeout({ timeoutMs: config.gateway.requestTimeoutMs, logger, renderError: (code, message) => failureBody(code, message) })
  const inferenceTimeout = createRequestTimeout({
    timeoutMs: config.gateway.inferenceTimeoutMs, logger, renderError: (code, message) => openAiErrorBody(503, code, message),
  })
  app.use((c, next) => (c.path.startsWith(OPENAI_PATH_PREFIX) ? inferenceTimeout(c, next) : timeout(c, next)))
  app.use(rateLimit)
  mountRoutes(router, options.routes, w)
  const chat = { w, products: createProductLoader(w) }
  mountOpenAiRoutes(router, chat)
  const openApiJson = JSON.stringify(buildGatewayOpenApiDocument(options.routes, { version: GATEWAY_API_VERSION }, openAiPaths))
  router.get('/api/openapi.json', (c) => {
    c.type = 'application/json'
    c.body = openApiJson
  })
  app.use(router.routes()).use(router.allowedMethods())

  const events: OrgEventHub | null = options.listen
    ? createOrgEventHub({ listen: options.listen, chainId: w.chain.chainId, logger: logger.child({ component: 'org-events' }) })
    : null

  let server: Server | undefined
  let rpc: RpcSocket | undefined
  return {
    app,
    addReadinessCheck: (check) => void checks.push(check),
    listen(host, port) {
      server = createServer(app.callback())
      rpc = attachRpcSocket(server, { chat, events, logger, proxy: options.proxy ?? false })
      return listenHttp(server, host, port, { name: 'gateway', setting: 'GATEWAY_PORT' })
    },
    close: async () => {
      await rpc?.close()
      await events?.close()
      await closeHttp(server)
      await rateLimit.close()
    },
  }
}
