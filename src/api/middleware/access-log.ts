import type { Context, Middleware } from 'koa'
import type { Logger } from '../../obs/index.js'
import { statusOfFailure } from './errors.js'
import { routePattern } from './route.js'

export interface AccessLogOptions {
  /** Used when createRequestId has not set `ctx.state.logger`. */
  logger: Logger
  /** Paths logged at debug instead of info (probes and scrapes). */
  quietPaths?: readonly string[]
}

export const defaultQuietPaths = ['/health', '/health/ready', '/metrics'] as const

/**
 * One log line per request: method, route pattern, path, status, duration, ip, user agent
 * (the request id comes with the request's logger). Never headers, never the query string:
 * both can carry keys and signatures.
 */
export function createAccessLog(options: AccessLogOptions): Middleware {
  const quiet = new Set<string>(options.quietPaths ?? defaultQuietPaths)
  return async (ctx, next) => {
    const started = performance.now()
    let failure: unknown
    try {
      await next()
    } catch (err) {
      failure = err
      throw err
    } finally {
      const level = quiet.has(ctx.path) ? 'debug' : 'info'
      // Checked on the process logger: the request's logger is its child, at the same level.
      if (options.logger.isLevelEnabled(level)) log(ctx, level, failure, started)
    }
  }

  function log(ctx: Context, level: 'debug' | 'info', failure: unknown, started: number): void {
    const logger: Logger = ctx.state.logger ?? options.logger
    const status = failure === undefined ? ctx.status : statusOfFailure(failure)
    const line = {
      method: ctx.method,
      route: routePattern(ctx) ?? ctx.path,
      path: ctx.path,
      status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      ip: ctx.ip,
      userAgent: ctx.get('User-Agent') || undefined,
      caller: ctx.state.caller?.kind,
      ...(ctx.state.logger ? {} : { requestId: ctx.state.requestId }),
    }
    logger[level](line, 'request')
  }
}
