/**
 * A server of health, readiness and metrics alone (GET /health, /health/ready, /metrics): the
 * indexer's. It loads none of the read API's modules (routes, OpenAPI, rate limits, the live
 * feed), which `haithe indexer` has no use for and which cost it start-up time.
 */
import { createServer, type RequestListener, type Server } from 'node:http'
import Router from '@koa/router'
import Koa from 'koa'
import type { Context } from '../context.js'
import { addOperationsRoutes, type ReadinessCheck } from './health.js'
import { createAccessLog } from './middleware/access-log.js'
import { createErrorBoundary } from './middleware/errors.js'
import { createHttpMetrics } from './middleware/http-metrics.js'
import { createRequestId } from './middleware/request-id.js'

export class PortInUseError extends Error {
  override name = 'PortInUseError'
}

/** Starts `server` on host:port (0: any free port); a port in use is a PortInUseError naming the setting that moves it. */
export function listenHttp(server: Server, host: string, port: number, what: { name: string; setting: string }): Promise<{ port: number }> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(`${what.name}: port ${port} on ${host} is in use (set ${what.setting} to another port)`) : err),
    )
    server.listen(port, host, () => {
      const address = server.address()
      resolve({ port: typeof address === 'object' && address ? address.port : port })
    })
  })
}

/** Stops accepting and ends the open connections (keep-alive ones too). */
export function closeHttp(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!server) return resolve()
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

export interface OperationsServer {
  /** Adds a readiness check; `/health/ready` is 503 until every check passes. */
  addReadinessCheck(check: ReadinessCheck): void
  listen(host: string, port: number): Promise<{ port: number }>
  close(): Promise<void>
}

export function createOperationsServer(ctx: Pick<Context, 'logger' | 'metrics'>, what: { name: string; setting: string }): OperationsServer {
  const { logger } = ctx
  const checks: ReadinessCheck[] = []
  const app = new Koa()
  const router = new Router()
  addOperationsRoutes(router, checks, ctx.metrics)
  app.use(createRequestId({ logger }))
  app.use(createAccessLog({ logger }))
  app.use(createHttpMetrics({ registry: ctx.metrics }))
  app.use(createErrorBoundary({ logger }))
  app.use(router.routes()).use(router.allowedMethods())

  let server: Server | undefined
  return {
    addReadinessCheck: (check) => void checks.push(check),
    listen(host, port) {
      server = createServer(app.callback() as RequestListener)
      return listenHttp(server, host, port, what)
    },
    close: () => closeHttp(server),
  }
}
