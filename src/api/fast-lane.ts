/**
 * The read API's fast lane: an anonymous GET of a URL that routed and parsed before is answered
 * straight from Node's HTTP server, without Koa and its middleware chain, which cost most of a
 * cached answer's time. It does what that chain would do for such a request — request id, the
 * anonymous rate limit and its headers, CORS, the access log line, the request metric — and
 * nothing else can happen to it: its route and parameters are known to be valid. Anything else
 * (another method, credentials, a URL not seen yet, a spent budget, a failed read) goes to Koa,
 * untouched: the lane writes nothing before it has the answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from '../obs/index.js'
import { corsAnswerHeaders, requestIdFor, type CorsPolicy, type ObserveRequest, type RateLimitMiddleware } from './middleware/index.js'

export interface FastAnswer {
  /** The route pattern (the access log's and the metric's `route`). */
  route: string
  /** The answer's JSON (from the hot cache, or read). */
  run(): Promise<{ json: string }>
}

export interface FastLaneOptions {
  /** The answer to a URL exactly as received (path and query string), if the lane may give it. */
  lookup(url: string): FastAnswer | undefined
  rateLimit: RateLimitMiddleware
  cors: CorsPolicy
  observe: ObserveRequest
  logger: Logger
  /** Trust X-Forwarded-For for the caller's address (as Koa's `proxy`). */
  proxy: boolean
}

/** Request headers that identify a caller: such requests take Koa's way (their budget is not per IP). */
const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'x-haithe-address', 'x-haithe-signature'] as const

export type FastLane = (req: IncomingMessage, res: ServerResponse, fallback: () => void) => boolean

export function createFastLane(options: FastLaneOptions): FastLane {
  const { logger, observe } = options

  const clientIp = (req: IncomingMessage): string => {
    const remote = req.socket.remoteAddress ?? ''
    if (!options.proxy) return remote
    const forwarded = req.headers['x-forwarded-for']
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim()
    return first || remote
  }

  /** Takes the request (true) or leaves it to `fallback`'s caller (false, nothing done). */
  return (req, res, fallback) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !req.url) return false
    if (CREDENTIAL_HEADERS.some((name) => req.headers[name] !== undefined)) return false
    const answer = options.lookup(req.url)
    if (!answer) return false
    const started = performance.now()
    const ip = clientIp(req)
    const limits = options.rateLimit.spendAnonymous(ip)
    // The budget is spent (or shared through Redis): Koa's rate limiter answers.
    if (!limits) return false
    answer.run().then(
      ({ json }) => {
        const offered = req.headers['x-request-id']
        const requestId = requestIdFor(Array.isArray(offered) ? offered[0] : offered)
        const origin = req.headers.origin
        res.writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(json),
          'x-request-id': requestId,
          ...limits,
          ...corsAnswerHeaders(options.cors, origin),
        })
        res.end(req.method === 'HEAD' ? undefined : json)
        const seconds = (performance.now() - started) / 1000
        observe(req.method!, answer.route, 200, seconds)
        if (logger.isLevelEnabled('info')) {
          const path = req.url!.split('?')[0]
          logger.info({ requestId, method: req.method, route: answer.route, path, status: 200, durationMs: Math.round(seconds * 10_000) / 10, ip, userAgent: req.headers['user-agent'], caller: 'anonymous' }, 'request')
        }
      },
      // A failed read: Koa runs the request again and answers with the proper error.
      () => fallback(),
    )
    return true
  }
}
