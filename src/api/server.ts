/**
 * The read API's HTTP server. For now: health, readiness and metrics, answering from the
 * moment the process starts (the routes over the indexed data arrive with the read API).
 */
import { createServer, type Server } from 'node:http'
import Router from '@koa/router'
import Koa from 'koa'
import type { Context } from '../context.js'
import { evaluateReadiness, type ReadinessCheck } from './health.js'

export interface ApiServer {
  app: Koa
  /** Adds a readiness check; `/health/ready` is 503 until every check passes. */
  addReadinessCheck(check: ReadinessCheck): void
  listen(host: string, port: number): Promise<{ port: number }>
  close(): Promise<void>
}

export class PortInUseError extends Error {
  override name = 'PortInUseError'
}

export function createApiServer(ctx: Pick<Context, 'logger' | 'metrics'>): ApiServer {
  const checks: ReadinessCheck[] = []
  const app = new Koa()
  const router = new Router()

  router.get('/health', (c) => {
    c.body = { status: 'ok' }
  })
  router.get('/health/ready', async (c) => {
    const report = await evaluateReadiness(checks)
    c.status = report.ready ? 200 : 503
    c.body = report
  })
  router.get('/metrics', async (c) => {
    c.type = ctx.metrics.contentType
    c.body = await ctx.metrics.metrics()
  })

  app.use(async (c, next) => {
    try {
      await next()
      if (c.status === 404 && c.body === undefined) c.body = { error: { code: 'not_found', message: `no route for ${c.method} ${c.path}` } }
    } catch (err) {
      ctx.logger.error({ err, method: c.method, path: c.path }, 'request failed')
      c.status = 500
      c.body = { error: { code: 'internal', message: 'internal error' } }
    }
  })
  app.use(router.routes()).use(router.allowedMethods())

  let server: Server | undefined
  return {
    app,
    addReadinessCheck: (check) => void checks.push(check),
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server = createServer(app.callback())
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(err.code === 'EADDRINUSE' ? new PortInUseError(`read API: port ${port} on ${host} is in use (set PORT to another port)`) : err),
        )
        server.listen(port, host, () => {
          const address = server!.address()
          resolve({ port: typeof address === 'object' && address ? address.port : port })
        })
      }),
    close: () =>
      new Promise((resolve) => {
        if (!server) return resolve()
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
