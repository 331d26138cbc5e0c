import { randomUUID } from 'node:crypto'
import type { Middleware } from 'koa'
import type { Logger } from '../../obs/index.js'

const acceptable = /^[A-Za-z0-9._:-]{1,128}$/

/** The caller's X-Request-Id when it is a short token, a fresh UUID otherwise. */
export const requestIdFor = (offered: string | undefined): string => (offered && acceptable.test(offered) ? offered : randomUUID())

export interface RequestIdOptions {
  /** The process logger; each request gets a child carrying its id. */
  logger: Logger
}

/**
 * Gives every request an id: the caller's `X-Request-Id` when it is a short token (so a
 * trace spans services), a fresh UUID otherwise. Echoed in the response's `X-Request-Id`,
 * kept on `ctx.state.requestId`, and bound to `ctx.state.logger` (a child logger made the
 * first time it is read: most requests never log).
 */
export function createRequestId(options: RequestIdOptions): Middleware {
  return async (ctx, next) => {
    const requestId = requestIdFor(ctx.get('X-Request-Id'))
    ctx.state.requestId = requestId
    let logger: Logger | undefined
    Object.defineProperty(ctx.state, 'logger', {
      configurable: true,
      enumerable: true,
      get: () => (logger ??= options.logger.child({ requestId })),
      set: (value: Logger) => void (logger = value),
    })
    ctx.res.setHeader('X-Request-Id', requestId)
    await next()
  }
}
