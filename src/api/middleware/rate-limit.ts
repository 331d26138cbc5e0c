import type { Context, Middleware } from 'koa'
import { Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import type { Logger } from '../../obs/index.js'
import type { CallerIdentifier } from './caller-identity.js'
import { ApiError } from './errors.js'
import type { Caller } from './state.js'

export interface RateLimitOptions {
  /** config.api.rateLimit.anonymousPerMinute: per client IP. */
  anonymousPerMinute: number
  /** config.api.rateLimit.identifiedPerMinute: per API key, per wallet. */
  identifiedPerMinute: number
  identifier: CallerIdentifier
  /** config.redisUrl: with it the budgets are shared by every replica; without, per process. */
  redisUrl?: string | null
  /** Prefix of the limiter keys (in Redis: `<prefix>:anonymous:ip:…`). */
  keyPrefix?: string
  /** Paths neither identified nor limited, and without RateLimit headers. */
  exemptPaths?: readonly string[]
  logger: Logger
}

export interface RateLimitMiddleware extends Middleware {
  /**
   * Without Redis: spends one request of an anonymous caller's budget at once and returns the
   * RateLimit headers to answer with; undefined with Redis, or when the budget is spent (the
   * middleware then answers, 429).
   */
  spendAnonymous(ip: string): Record<string, string> | undefined
  /** Resolves once the limiter can use Redis (at once without Redis). */
  ready(): Promise<void>
  /** Closes the Redis connection. */
  close(): Promise<void>
}

export const defaultExemptPaths = ['/health', '/health/ready', '/metrics'] as const
const windowSeconds = 60

/**
 * Identifies the caller (`ctx.state.caller`) and spends one request of its budget per
 * minute: anonymous callers per IP, identified ones per key or wallet. Every response
 * carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds); an
 * exhausted budget is 429 `rate_limited` with `Retry-After`. Wrong credentials are 401, and
 * spend the IP's anonymous budget first, so bad signatures cannot buy unlimited ecrecovers.
 *
 * With Redis, requests go to Redis with no offline queue; while it is unreachable an
 * in-memory limiter of the same budget answers instead, so an outage never fails requests.
 */
export function createRateLimit(options: RateLimitOptions): RateLimitMiddleware {
  const prefix = options.keyPrefix ?? 'haithe:rl'
  const exempt = new Set<string>(options.exemptPaths ?? defaultExemptPaths)
  const redis = options.redisUrl ? connect(options.redisUrl, options.logger) : undefined

  interface Budget {
    points: number
    /** Without Redis: a synchronous counter, much cheaper per request than RateLimiterMemory. */
    memory?: FixedWindows
    /** With Redis: RateLimiterRedis, with an in-memory limiter of the same budget as insurance. */
    shared?: RateLimiterAbstract
  }
  const budget = (kind: 'anonymous' | 'identified', points: number): Budget => {
    if (!redis) return { points, memory: new FixedWindows(points, windowSeconds * 1000) }
    const keyPrefix = `${prefix}:${kind}`
    const insuranceLimiter = new RateLimiterMemory({ points, duration: windowSeconds, keyPrefix })
    return { points, shared: new RateLimiterRedis({ storeClient: redis, points, duration: windowSeconds, keyPrefix, rejectIfRedisNotReady: true, insuranceLimiter }) }
  }
  const anonymous = budget('anonymous', options.anonymousPerMinute)
  const identified = budget('identified', options.identifiedPerMinute)

  function refuse(caller: Caller, points: number, msBeforeNext: number): never {
    const wait = Math.max(1, Math.ceil(msBeforeNext / 1000))
    throw new ApiError(429, 'rate_limited', `too many requests: ${points} a minute ${describe(caller)}; try again in ${wait} s`, { 'Retry-After': String(wait) })
  }

  /** Spends one request of the caller's budget: synchronously without Redis, a promise with it. */
  function spend(ctx: Context, caller: Caller): Promise<void> | undefined {
    const { points, memory, shared } = caller.kind === 'anonymous' ? anonymous : identified
    const key = `${caller.kind === 'anonymous' ? 'ip' : caller.kind}:${caller.id}`
    if (memory) {
      const window = memory.consume(key)
      const msBeforeNext = window.resetAt - Date.now()
      setHeaders(ctx, points, points - window.consumed, msBeforeNext)
      if (window.consumed > points) refuse(caller, points, msBeforeNext)
      return undefined
    }
    return shared!.consume(key).then(
      (result) => setHeaders(ctx, points, result.remainingPoints, result.msBeforeNext),
      (rejection: unknown) => {
        if (!(rejection instanceof RateLimiterRes)) {
          const logger: Logger = ctx.state.logger ?? options.logger
          logger.warn({ err: rejection }, 'rate limiter unavailable; request let through')
          return
        }
        setHeaders(ctx, points, rejection.remainingPoints, rejection.msBeforeNext)
        refuse(caller, points, rejection.msBeforeNext)
      },
    )
  }

  const middleware: Middleware = async (ctx, next) => {
    if (exempt.has(ctx.path)) {
      ctx.state.caller = { kind: 'anonymous', id: ctx.ip }
      return next()
    }
    let caller: Caller
    try {
      caller = await options.identifier.identify(ctx)
    } catch (err) {
      if (err instanceof ApiError) await spend(ctx, { kind: 'anonymous', id: ctx.ip })
      throw err
    }
    ctx.state.caller = caller
    const spending = spend(ctx, caller)
    if (spending) await spending
    await next()
  }

  const spendAnonymous = (ip: string): Record<string, string> | undefined => {
    const { points, memory } = anonymous
    if (!memory) return undefined
    const window = memory.consume(`ip:${ip}`)
    if (window.consumed > points) return undefined
    return rateLimitHeaders(points, points - window.consumed, window.resetAt - Date.now())
  }

  return Object.assign(middleware, {
    spendAnonymous,
    ready: () =>
      !redis || redis.status === 'ready'
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            redis.once('ready', () => resolve())
            redis.once('end', () => reject(new Error('the Redis connection was closed before it was ready')))
          }),
    close: async () => {
      if (!redis || redis.status === 'end') return
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect())
      else redis.disconnect()
    },
  })
}

function connect(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
  })
  let healthy = true
  // An unhandled 'error' event would end the process; say it once per outage instead.
  redis.on('error', (err: Error) => {
    if (healthy) logger.warn({ err: { name: err.name, message: err.message } }, 'rate limiter: Redis unreachable, limiting per process until it is back')
    healthy = false
  })
  redis.on('ready', () => {
    if (!healthy) logger.info('rate limiter: Redis is back')
    healthy = true
  })
  return redis
}

function rateLimitHeaders(limit: number, remaining: number, msBeforeNext: number): Record<string, string> {
  return {
    'RateLimit-Limit': String(limit),
    'RateLimit-Remaining': String(Math.max(0, remaining)),
    'RateLimit-Reset': String(Math.max(0, Math.ceil(msBeforeNext / 1000))),
  }
}

function setHeaders(ctx: Context, limit: number, remaining: number, msBeforeNext: number): void {
  // As ctx.set, without its per-call arrays: this runs on every request.
  if (ctx.headerSent) return
  for (const [name, value] of Object.entries(rateLimitHeaders(limit, remaining, msBeforeNext))) ctx.res.setHeader(name, value)
}

/**
 * Fixed windows per key, in memory, as RateLimiterMemory counts them: a key's window starts
 * with its first request and lasts `windowMs`; every request counts, refused ones too. Expired
 * windows are dropped by a sweep at most once a window, done by a request (no timer).
 */
class FixedWindows {
  private readonly windows = new Map<string, { consumed: number; resetAt: number }>()
  private nextSweep: number

  constructor(
    readonly points: number,
    readonly windowMs: number,
  ) {
    this.nextSweep = Date.now() + windowMs
  }

  consume(key: string): { consumed: number; resetAt: number } {
    const now = Date.now()
    if (now >= this.nextSweep) this.sweep(now)
    let window = this.windows.get(key)
    if (!window || window.resetAt <= now) this.windows.set(key, (window = { consumed: 0, resetAt: now + this.windowMs }))
    window.consumed++
    return window
  }

  private sweep(now: number): void {
    this.nextSweep = now + this.windowMs
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key)
  }
}

function describe(caller: Caller): string {
  switch (caller.kind) {
    case 'anonymous':
      return 'per IP address without an API key'
    case 'apiKey':
      return 'for this API key'
    case 'wallet':
      return 'for this wallet'
  }
}
