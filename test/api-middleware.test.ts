/**
 * The read API's middleware, assembled in the documented order on a real Koa app with a few
 * test routes, driven over real HTTP; the shared rate limit runs against the local Redis.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Router from '@koa/router'
import { Redis } from 'ioredis'
import Koa from 'koa'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import {
  createAccessLog,
  createCallerIdentifier,
  createCors,
  createErrorBoundary,
  createHttpMetrics,
  createRateLimit,
  createRequestId,
  createRequestTimeout,
  walletMessage,
  type RateLimitMiddleware,
} from '../src/api/middleware/index.js'
import { redactedPaths } from '../src/obs/index.js'
import { InvalidArgumentError, NotFoundError } from '../src/read/errors.js'

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const apiKey = 'test-read-key-0123456789abcdef'
const otherKey = 'another-read-key-fedcba9876543210'

interface AppOptions {
  anonymousPerMinute?: number
  identifiedPerMinute?: number
  corsOrigins?: string[]
  redisUrl?: string | null
  keyPrefix?: string
  registry?: Registry
}

interface LogLine {
  level: number
  msg: string
  requestId?: string
  [field: string]: unknown
}

interface TestApp {
  url: string
  logs: LogLine[]
  raw: string[]
  registry: Registry
  rateLimit: RateLimitMiddleware
  slow: { aborted: boolean; finished: Promise<void> }
  close(): Promise<void>
}

const running: TestApp[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((app) => app.close()))
})

async function startApp(options: AppOptions = {}): Promise<TestApp> {
  const raw: string[] = []
  const logger = pino({ level: 'debug', redact: { paths: redactedPaths, censor: '[redacted]' } }, { write: (line: string) => void raw.push(line) })
  const registry = options.registry ?? new Registry()
  const rateLimit = createRateLimit({
    anonymousPerMinute: options.anonymousPerMinute ?? 100,
    identifiedPerMinute: options.identifiedPerMinute ?? 1000,
    identifier: createCallerIdentifier({ apiKeys: [otherKey, apiKey] }),
    redisUrl: options.redisUrl ?? null,
    keyPrefix: options.keyPrefix ?? `haithe:rl:test:${randomBytes(6).toString('hex')}`,
    logger,
  })
  let finishSlow!: () => void
  const slow = { aborted: false, finished: new Promise<void>((resolve) => (finishSlow = resolve)) }

  const router = new Router()
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' }
  })
  router.get('/metrics', async (ctx) => {
    ctx.type = registry.contentType
    ctx.body = await registry.metrics()
  })
  router.get('/v1/whoami', (ctx) => {
    ctx.body = { caller: ctx.state.caller, requestId: ctx.state.requestId }
  })
  router.get('/v1/invalid', () => {
    throw new InvalidArgumentError('limit', 'must be a whole number from 1 to 100')
  })
  router.get('/v1/products/:id', (ctx) => {
    throw new NotFoundError(`product ${ctx.params.id} is not indexed`)
  })
  router.get('/v1/boom', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=60')
    throw new Error('connect ECONNREFUSED 10.0.0.7:5432 (password=hunter2) at /srv/haithe/src/db/connect.ts:42')
  })
  router.get('/v1/koa-error', (ctx) => {
    ctx.throw(400, 'the request body is not valid JSON')
  })
  router.get('/v1/pg-timeout', () => {
    throw Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014', routine: 'ProcessInterrupts' })
  })
  router.get('/v1/slow', async (ctx) => {
    ctx.state.signal.addEventListener('abort', () => (slow.aborted = true))
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    ctx.body = { late: true }
    finishSlow()
  })

  const app = new Koa()
  app.use(createRequestId({ logger }))
  app.use(createAccessLog({ logger }))
  app.use(createHttpMetrics({ registry }))
  app.use(createCors({ origins: options.corsOrigins ?? ['*'] }))
  app.use(createErrorBoundary({ logger }))
  app.use(createRequestTimeout({ timeoutMs: 200, logger }))
  app.use(rateLimit)
  app.use(router.routes()).use(router.allowedMethods())

  const server: Server = createServer(app.callback())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const testApp: TestApp = {
    url: `http://127.0.0.1:${port}`,
    raw,
    get logs() {
      return raw.map((line) => JSON.parse(line) as LogLine)
    },
    registry,
    rateLimit,
    slow,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await rateLimit.close()
    },
  }
  running.push(testApp)
  return testApp
}

async function json(response: Response): Promise<{ error: { code: string; message: string } } & Record<string, unknown>> {
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  return (await response.json()) as { error: { code: string; message: string } } & Record<string, unknown>
}

describe('request id and access log', () => {
  it('echoes an acceptable X-Request-Id, replaces an unacceptable one, and generates one when absent', async () => {
    const app = await startApp()
    const echoed = await fetch(`${app.url}/v1/whoami`, { headers: { 'X-Request-Id': 'trace-42:abc.DEF_1' } })
    expect(echoed.headers.get('x-request-id')).toBe('trace-42:abc.DEF_1')
    expect(((await echoed.json()) as { requestId: string }).requestId).toBe('trace-42:abc.DEF_1')

    const replaced = await fetch(`${app.url}/v1/whoami`, { headers: { 'X-Request-Id': 'no spaces or <html> allowed' } })
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    const generated = await fetch(`${app.url}/v1/whoami`)
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    expect(generated.headers.get('x-request-id')).not.toBe(replaced.headers.get('x-request-id'))
  })

  it('logs one line per request with the route pattern and no query string or credentials', async () => {
    const app = await startApp()
    const account = privateKeyToAccount(generatePrivateKey())
    const timestamp = String(Math.floor(Date.now() / 1000))
    const signature = await account.signMessage({ message: walletMessage(timestamp) })
    await fetch(`${app.url}/v1/products/77?api_key=${apiKey}`, { headers: { Authorization: `Bearer ${apiKey}`, 'X-Request-Id': 'req-1' } })
    await fetch(`${app.url}/v1/whoami?sig=${signature}`, {
      headers: { 'X-Haithe-Address': account.address, 'X-Haithe-Timestamp': timestamp, 'X-Haithe-Signature': signature },
    })
    await fetch(`${app.url}/health`)

    const requests = app.logs.filter((line) => line.msg === 'request')
    expect(requests).toHaveLength(3)
    expect(requests[0]).toMatchObject({ level: 30, requestId: 'req-1', method: 'GET', route: '/v1/products/:id', path: '/v1/products/77', status: 404, caller: 'apiKey' })
    expect(requests[0]!.durationMs).toBeTypeOf('number')
    expect(requests[0]!.ip).toMatch(/127\.0\.0\.1/)
    expect(requests[0]!.userAgent).toBeTypeOf('string')
    expect(requests[1]).toMatchObject({ route: '/v1/whoami', status: 200, caller: 'wallet' })
    expect(requests[2]).toMatchObject({ level: 20, route: '/health' }) // probes at debug
    const everything = app.raw.join('\n')
    expect(everything).not.toContain(apiKey)
    expect(everything).not.toContain(signature.slice(2, 40))
    expect(everything).not.toContain('api_key=')
    expect(everything).not.toContain('sig=')
    for (const line of requests) expect(`${String(line.path)} ${String(line.route)}`).not.toContain('?')
  })
})

describe('errors', () => {
  it('answers every failure as { error: { code, message } } with the right status', async () => {
    const app = await startApp()
    const invalid = await fetch(`${app.url}/v1/invalid`)
    expect(invalid.status).toBe(400)
    expect(await json(invalid)).toEqual({ error: { code: 'invalid_argument', message: 'limit: must be a whole number from 1 to 100' } })

    const missing = await fetch(`${app.url}/v1/products/12`)
    expect(missing.status).toBe(404)
    expect(await json(missing)).toEqual({ error: { code: 'not_found', message: 'product 12 is not indexed' } })

    const koaError = await fetch(`${app.url}/v1/koa-error`)
    expect(koaError.status).toBe(400)
    expect(await json(koaError)).toEqual({ error: { code: 'bad_request', message: 'the request body is not valid JSON' } })

    const pgTimeout = await fetch(`${app.url}/v1/pg-timeout`)
    expect(pgTimeout.status).toBe(503)
    expect(await json(pgTimeout)).toEqual({ error: { code: 'timeout', message: 'the query took too long' } })

    const noRoute = await fetch(`${app.url}/x`)
    expect(noRoute.status).toBe(404)
    expect(await json(noRoute)).toEqual({ error: { code: 'not_found', message: 'no route for GET /x' } })

    const wrongMethod = await fetch(`${app.url}/v1/whoami`, { method: 'DELETE' })
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.headers.get('allow')).toContain('GET')
    expect(await json(wrongMethod)).toEqual({ error: { code: 'method_not_allowed', message: 'DELETE is not allowed on /v1/whoami (allowed: HEAD, GET)' } })
  })

  it('answers an unexpected error 500 without detail, and logs it with the request id', async () => {
    const app = await startApp()
    const response = await fetch(`${app.url}/v1/boom`, { headers: { 'X-Request-Id': 'boom-1' } })
    expect(response.status).toBe(500)
    expect(response.headers.get('cache-control')).toBeNull()
    expect(response.headers.get('x-request-id')).toBe('boom-1')
    const text = await response.text()
    expect(JSON.parse(text)).toEqual({ error: { code: 'internal', message: 'internal error' } })
    for (const secret of ['ECONNREFUSED', 'hunter2', '/srv/', '10.0.0.7', 'stack']) expect(text).not.toContain(secret)

    const failure = app.logs.find((line) => line.msg === 'request failed')
    expect(failure).toMatchObject({ level: 50, requestId: 'boom-1', route: '/v1/boom' })
    expect(JSON.stringify(failure)).toContain('ECONNREFUSED')
  })

  it('answers 503 timeout to a request running past the deadline, once, and aborts its signal', async () => {
    const app = await startApp()
    const response = await fetch(`${app.url}/v1/slow`)
    expect(response.status).toBe(503)
    const body = await json(response)
    expect(body.error.code).toBe('timeout')
    expect(body.error.message).toContain('200 ms')
    expect(response.headers.get('ratelimit-limit')).toBe('100')
    expect(app.slow.aborted).toBe(true)

    // The abandoned handler finishes in the background without a second response or a crash.
    await app.slow.finished
    const after = await fetch(`${app.url}/v1/whoami`)
    expect(after.status).toBe(200)
    expect(app.logs.filter((line) => line.msg === 'request' && line.route === '/v1/slow').map((line) => line.status)).toEqual([503])
  })
})

describe('CORS', () => {
  it('echoes a listed origin with Vary: Origin, exposes the rate-limit headers, and ignores other origins', async () => {
    const app = await startApp({ corsOrigins: ['https://app.haithe.io'] })
    const listed = await fetch(`${app.url}/v1/whoami`, { headers: { Origin: 'https://app.haithe.io' } })
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://app.haithe.io')
    expect(listed.headers.get('vary')).toContain('Origin')
    expect(listed.headers.get('access-control-expose-headers')).toBe('X-Request-Id, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After')

    const other = await fetch(`${app.url}/v1/whoami`, { headers: { Origin: 'https://evil.example' } })
    expect(other.status).toBe(200)
    expect(other.headers.get('access-control-allow-origin')).toBeNull()

    const error = await fetch(`${app.url}/nope`, { headers: { Origin: 'https://app.haithe.io' } })
    expect(error.status).toBe(404)
    expect(error.headers.get('access-control-allow-origin')).toBe('https://app.haithe.io')
  })

  it('answers a preflight 204 with the allowed methods and headers, and allows any origin with *', async () => {
    const app = await startApp({ corsOrigins: ['*'], anonymousPerMinute: 1 })
    const preflight = await fetch(`${app.url}/v1/whoami`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://dashboard.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'x-haithe-signature' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, HEAD, OPTIONS')
    expect(preflight.headers.get('access-control-allow-headers')).toBe(
      'Content-Type, Authorization, X-API-Key, X-Request-Id, X-Haithe-Address, X-Haithe-Timestamp, X-Haithe-Signature',
    )
    expect(Number(preflight.headers.get('access-control-max-age'))).toBeGreaterThan(0)
    // Preflights spend no budget: the one allowed request is still there.
    expect((await fetch(`${app.url}/v1/whoami`, { headers: { Origin: 'https://dashboard.example' } })).status).toBe(200)
  })
})

describe('caller identity and rate limits', () => {
  it('refuses the request after the anonymous budget with 429, Retry-After and RateLimit headers', async () => {
    const app = await startApp({ anonymousPerMinute: 5 })
    const remaining: string[] = []
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${app.url}/v1/whoami`)
      expect(response.status).toBe(200)
      expect(response.headers.get('ratelimit-limit')).toBe('5')
      remaining.push(response.headers.get('ratelimit-remaining')!)
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0'])
    const refused = await fetch(`${app.url}/v1/whoami`)
    expect(refused.status).toBe(429)
    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(refused.headers.get('ratelimit-limit')).toBe('5')
    expect(refused.headers.get('ratelimit-remaining')).toBe('0')
    expect(Number(refused.headers.get('ratelimit-reset'))).toBe(retryAfter)
    const body = await json(refused)
    expect(body.error.code).toBe('rate_limited')
    expect(body.error.message).toMatch(new RegExp(`try again in ${retryAfter} s$`))

    // Health and metrics stay reachable, without rate-limit headers.
    const health = await fetch(`${app.url}/health`)
    expect(health.status).toBe(200)
    expect(health.headers.get('ratelimit-limit')).toBeNull()
  })

  it('gives a valid API key the identified budget, by header or bearer token, and refuses a wrong one', async () => {
    const app = await startApp({ anonymousPerMinute: 5, identifiedPerMinute: 50 })
    for (let i = 0; i < 8; i++) {
      const headers: Record<string, string> = i % 2 ? { 'X-API-Key': apiKey } : { Authorization: `Bearer ${apiKey}` }
      const response = await fetch(`${app.url}/v1/whoami`, { headers })
      expect(response.status).toBe(200)
      expect(response.headers.get('ratelimit-limit')).toBe('50')
      expect(response.headers.get('ratelimit-remaining')).toBe(String(49 - i))
      const { caller } = (await response.json()) as { caller: { kind: string; id: string } }
      expect(caller.kind).toBe('apiKey')
      expect(caller.id).toMatch(/^[0-9a-f]{64}$/)
    }
    const wrong = await fetch(`${app.url}/v1/whoami`, { headers: { 'X-API-Key': 'not-a-configured-key-000000' } })
    expect(wrong.status).toBe(401)
    expect(await json(wrong)).toEqual({ error: { code: 'unauthenticated', message: 'unknown API key' } })
    const wrongBearer = await fetch(`${app.url}/v1/whoami`, { headers: { Authorization: `Bearer ${apiKey}x` } })
    expect(wrongBearer.status).toBe(401)
    const notBearer = await fetch(`${app.url}/v1/whoami`, { headers: { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } })
    expect(notBearer.status).toBe(401)
    expect((await json(notBearer)).error.message).toContain('Bearer')
  })

  it('identifies a wallet by its signature of haithe-read-api:<timestamp>, and refuses stale or forged ones', async () => {
    const app = await startApp({ identifiedPerMinute: 30 })
    const account = privateKeyToAccount(generatePrivateKey())
    const now = Math.floor(Date.now() / 1000)
    const sign = async (timestamp: number, signer = account) => ({
      'X-Haithe-Address': account.address,
      'X-Haithe-Timestamp': String(timestamp),
      'X-Haithe-Signature': await signer.signMessage({ message: `haithe-read-api:${timestamp}` }),
    })

    const headers = await sign(now)
    for (let i = 0; i < 2; i++) {
      const ok = await fetch(`${app.url}/v1/whoami`, { headers })
      expect(ok.status).toBe(200)
      expect(ok.headers.get('ratelimit-limit')).toBe('30')
      expect(((await ok.json()) as { caller: unknown }).caller).toEqual({ kind: 'wallet', id: account.address.toLowerCase() })
    }

    const stale = await fetch(`${app.url}/v1/whoami`, { headers: await sign(now - 3_600) })
    expect(stale.status).toBe(401)
    const staleBody = await json(stale)
    expect(staleBody.error.code).toBe('unauthenticated')
    expect(staleBody.error.message).toContain('stale')

    const forged = await fetch(`${app.url}/v1/whoami`, { headers: await sign(now, privateKeyToAccount(generatePrivateKey())) })
    expect(forged.status).toBe(401)
    expect((await json(forged)).error.message).toContain('is not a signature by')

    const partial = await fetch(`${app.url}/v1/whoami`, { headers: { 'X-Haithe-Address': account.address } })
    expect(partial.status).toBe(401)
    expect((await json(partial)).error.message).toContain('missing X-Haithe-Timestamp, X-Haithe-Signature')
  })

  it('lets wrong credentials spend the anonymous budget, so they cannot be retried without limit', async () => {
    const app = await startApp({ anonymousPerMinute: 2 })
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${app.url}/v1/whoami`, { headers: { 'X-API-Key': 'guessing-a-key-000000000' } })).status)
    expect(statuses).toEqual([401, 401, 429])
  })

  it('shares one budget across app instances through Redis', async () => {
    const keyPrefix = `haithe:rl:test:${randomBytes(6).toString('hex')}`
    const first = await startApp({ anonymousPerMinute: 5, redisUrl, keyPrefix })
    const second = await startApp({ anonymousPerMinute: 5, redisUrl, keyPrefix })
    await Promise.all([first.rateLimit.ready(), second.rateLimit.ready()])
    const statuses = []
    for (const app of [first, second, first, second, first, second]) statuses.push((await fetch(`${app.url}/v1/whoami`)).status)
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429])

    const inspect = new Redis(redisUrl)
    try {
      const keys = await inspect.keys(`${keyPrefix}:*`)
      expect(keys).toHaveLength(1)
      await inspect.del(...keys)
    } finally {
      inspect.disconnect()
    }
  })

  it('keeps answering, limited per process, while Redis is unreachable', async () => {
    const app = await startApp({ anonymousPerMinute: 2, redisUrl: 'redis://127.0.0.1:1' })
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${app.url}/v1/whoami`)).status)
    expect(statuses).toEqual([200, 200, 429])
    expect(app.logs.filter((line) => line.msg.startsWith('rate limiter: Redis unreachable')).length).toBeLessThanOrEqual(1)
  })
})

describe('metrics', () => {
  const registry = new Registry()
  afterAll(() => registry.clear())

  it('records http_request_duration_seconds by method, route pattern and status, with _unmatched for unknown paths', async () => {
    const app = await startApp({ registry })
    await startApp({ registry }) // a second app on the same registry reuses the histogram
    await fetch(`${app.url}/v1/products/1`)
    await fetch(`${app.url}/v1/products/2`)
    await fetch(`${app.url}/no/such/path/${randomBytes(4).toString('hex')}`)
    const text = await (await fetch(`${app.url}/metrics`)).text()
    expect(text).toContain('# TYPE http_request_duration_seconds histogram')
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/v1\/products\/:id",status="404"\} 2/)
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="_unmatched",status="404"\} 1/)
    expect(text).not.toContain('/no/such/path')
  })
})
