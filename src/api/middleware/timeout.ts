import type { Context, Middleware } from 'koa'
import type { Logger } from '../../obs/index.js'
import { clearEntityHeaders, errorBody } from './errors.js'

export interface RequestTimeoutOptions {
  /** config.api.requestTimeoutMs */
  timeoutMs: number
  /** Used when createRequestId has not set `ctx.state.logger`. */
  logger: Logger
  /** The body of the 503 (default the read API's `{ error: { code, message } }`). */
  renderError?: (code: string, message: string, ctx: Context) => unknown
}

/** The reason `ctx.state.signal` carries when a request ran out of time. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError'
}

/** A request in flight: when it runs out of time, and what to do then. */
interface InFlight {
  deadline: number
  expire(): void
}

/**
 * Answers 503 `{ error: { code: 'timeout' } }` to a request still running after `timeoutMs`.
 * The answer is written at once and directly (Koa is told not to respond), so whatever the
 * abandoned work does later cannot write a second response; the work goes on in the
 * background, and `ctx.state.signal` is aborted so handlers that pass it on stop early. The
 * signal is aborted too when the client goes away before the response is complete.
 *
 * Cheap per request: no timer of its own (one shared sweep, every `timeoutMs / 8` ms, at most
 * 100 ms, while requests are in flight, expires the overdue ones), and the AbortController is
 * made only when a handler first reads `ctx.state.signal`.
 */
export function createRequestTimeout(options: RequestTimeoutOptions): Middleware {
  const { timeoutMs } = options
  const tickMs = Math.max(5, Math.min(100, Math.floor(timeoutMs / 8)))
  const inFlight = new Set<InFlight>()
  let sweeper: NodeJS.Timeout | undefined

  const sweep = () => {
    if (inFlight.size === 0) {
      clearInterval(sweeper)
      sweeper = undefined
      return
    }
    const now = performance.now()
    for (const request of inFlight) {
      if (request.deadline <= now) {
        inFlight.delete(request)
        request.expire()
      }
    }
  }

  return async (ctx, next) => {
    let controller: AbortController | undefined
    /** Why the signal is aborted, once it is (also before any handler asked for it). */
    let abortReason: Error | undefined
    const abort = (reason: Error) => {
      if (abortReason) return
      abortReason = reason
      controller?.abort(reason)
    }
    const onClose = () => {
      if (!ctx.res.writableFinished) abort(new Error('the client closed the connection'))
    }
    Object.defineProperty(ctx.state, 'signal', {
      configurable: true,
      enumerable: true,
      get() {
        if (!controller) {
          controller = new AbortController()
          if (abortReason) controller.abort(abortReason)
          else if (ctx.res.closed) onClose()
          else ctx.res.once('close', onClose)
        }
        return controller.signal
      },
    })

    let timedOut = false
    const request: InFlight = { deadline: performance.now() + timeoutMs, expire: () => undefined }
    const finished = new Promise<boolean>((resolve, reject) => {
      request.expire = () => {
        // A response already streaming cannot be replaced: let it finish.
        if (ctx.headerSent) return
        timedOut = true
        resolve(true)
      }
      next().then(
        () => resolve(false),
        (err: unknown) => {
          if (!timedOut) return reject(err)
          const logger: Logger = ctx.state.logger ?? options.logger
          logger.warn({ err }, 'a timed-out request failed after its 503 was sent')
        },
      )
    })
    inFlight.add(request)
    sweeper ??= setInterval(sweep, tickMs).unref()
    let expired: boolean
    try {
      expired = await finished
    } finally {
      inFlight.delete(request)
    }
    if (!expired) return

    const logger: Logger = ctx.state.logger ?? options.logger
    abort(new RequestTimeoutError(`the request took longer than ${timeoutMs} ms`))
    logger.warn({ method: ctx.method, path: ctx.path, timeoutMs }, 'request timed out')

    const payload = JSON.stringify((options.renderError ?? errorBody)('timeout', `the request took longer than ${timeoutMs} ms; try again or narrow it`, ctx))
    clearEntityHeaders(ctx)
    ctx.status = 503
    ctx.set('Content-Type', 'application/json; charset=utf-8')
    ctx.set('Content-Length', String(Buffer.byteLength(payload)))
    ctx.respond = false
    ctx.res.end(payload)
  }
}
