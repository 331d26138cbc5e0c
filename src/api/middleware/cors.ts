import type { Middleware } from 'koa'

export interface CorsOptions {
  /** config.api.corsOrigins: exact origins (`https://app.example`), or `*` for any. */
  origins: readonly string[]
  /** How long a browser may cache a preflight answer. */
  maxAgeSeconds?: number
  /** Also allow the write path's methods and headers (the gateway). */
  writes?: boolean
}

const readMethods = 'GET, HEAD, OPTIONS'
const writeMethods = 'GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE'
const readHeaders = 'Content-Type, Authorization, X-API-Key, X-Request-Id, X-Haithe-Address, X-Haithe-Timestamp, X-Haithe-Signature'
const writeHeaders = `${readHeaders}, Idempotency-Key, Haithe-Organization, Haithe-Project, OpenAI-Organization, OpenAI-Project, Haithe-Conversation`
const exposeHeaders = 'X-Request-Id, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After'

/**
 * CORS for the read API (and, with `writes`, the gateway). With `*` every origin may read (no credentials: callers identify
 * with headers, not cookies); otherwise a listed Origin is echoed, with `Vary: Origin`. A
 * preflight is answered 204 here, before rate limiting and routing.
 */
export function createCors(options: CorsOptions): Middleware {
  const policy = createCorsPolicy(options.origins)
  const maxAge = String(options.maxAgeSeconds ?? 600)
  const allowMethods = options.writes ? writeMethods : readMethods
  const allowHeaders = options.writes ? writeHeaders : readHeaders
  return async (ctx, next) => {
    const origin = ctx.get('Origin')
    if (!policy.anyOrigin) ctx.vary('Origin')
    const allowOrigin = policy.allowOrigin(origin)

    if (ctx.method === 'OPTIONS' && origin && ctx.get('Access-Control-Request-Method')) {
      if (allowOrigin) {
        ctx.set('Access-Control-Allow-Origin', allowOrigin)
        ctx.set('Access-Control-Allow-Methods', allowMethods)
        // The gateway allows whatever headers the client asks for (no cookies are involved; the
        // official openai client sends its own x-stainless-* headers).
        ctx.set('Access-Control-Allow-Headers', (options.writes && ctx.get('Access-Control-Request-Headers')) || allowHeaders)
        ctx.set('Access-Control-Max-Age', maxAge)
      }
      ctx.status = 204
      return
    }
    if (allowOrigin) {
      ctx.set('Access-Control-Allow-Origin', allowOrigin)
      ctx.set('Access-Control-Expose-Headers', exposeHeaders)
    }
    await next()
  }
}

export interface CorsPolicy {
  anyOrigin: boolean
  /** The Access-Control-Allow-Origin to answer `origin` with, if it may read. */
  allowOrigin(origin: string | undefined): string | undefined
}

export function createCorsPolicy(origins: readonly string[]): CorsPolicy {
  const anyOrigin = origins.includes('*')
  const listed = new Set(origins.map(normalize))
  return { anyOrigin, allowOrigin: (origin) => (anyOrigin ? '*' : origin && listed.has(normalize(origin)) ? origin : undefined) }
}

/** The headers CORS adds to an answer that is not a preflight. */
export function corsAnswerHeaders(policy: CorsPolicy, origin: string | undefined): Record<string, string> {
  const allowOrigin = policy.allowOrigin(origin)
  return {
    ...(policy.anyOrigin ? {} : { vary: 'Origin' }),
    ...(allowOrigin ? { 'access-control-allow-origin': allowOrigin, 'access-control-expose-headers': exposeHeaders } : {}),
  }
}

function normalize(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase()
}
