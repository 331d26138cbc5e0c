/**
 * The REST read API on 127.0.0.1:0 over a test database, wired as `haithe api` wires it
 * (`startReads`: hot cache invalidated by the indexer's NOTIFY, live feed, readiness check on
 * the index), or from its parts with a pinned clock (`clock`), plus a small HTTP client for it.
 *
 *   const api = await startReadApi(database, chain.chainId, { rateLimit: { anonymousPerMinute: 10_000 } })
 *   const stats = await api.json<MarketStats>('/v1/stats')
 *   await api.close()
 */
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { createApiServer, type ApiServer } from '../../src/api/index.js'
import { createHotCache, listenForIndexNotifications, type IndexNotificationListener } from '../../src/cache/index.js'
import { startReads } from '../../src/commands/api.js'
import { loadConfig, type HaitheConfig } from '../../src/config/index.js'
import { createContext, type Context } from '../../src/context.js'
import type { DatabaseHandle } from '../../src/db/index.js'
import { createEventFeed, createReads, type EventView, type ReadContext } from '../../src/read/index.js'

export interface ReadApiOptions {
  /** Overrides of config.api (deep-merged over config/default.json). Default: a budget no test reaches. */
  api?: Partial<Omit<HaitheConfig['api'], 'rateLimit' | 'cache'>> & { rateLimit?: Partial<HaitheConfig['api']['rateLimit']>; cache?: Partial<HaitheConfig['api']['cache']> }
  /** Shares the rate limit through this Redis. */
  redisUrl?: string | null
  /**
   * Without: `startReads` (the hot cache, NOTIFY invalidation, the live feed and the readiness
   * check of `haithe api`, on the real clock). With: the same parts built here with this clock
   * for the time windows (no readiness check on the index), and the cache only if `cache`.
   */
  clock?: () => Date
  /** With `clock`: put the hot cache in front of the reads. */
  cache?: boolean
}

export interface HttpAnswer<T = unknown> {
  status: number
  headers: Headers
  /** Parsed JSON when the response is JSON, else undefined. */
  body: T
  text: string
}

export interface ReadApi {
  url: string
  context: Context
  server: ApiServer
  /** GET `path` (with `query` appended); never throws on an HTTP status. */
  get<T = unknown>(path: string, query?: Record<string, string | number | undefined>, headers?: Record<string, string>): Promise<HttpAnswer<T>>
  /** GET that must answer 200 with JSON; throws with the body otherwise. */
  json<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T>
  /** Every item of a paged list, following `next_cursor` (at most 1,000 pages). */
  all<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T[]>
  /** The value of a Prometheus counter or gauge sample from GET /metrics (0 when absent). */
  metric(name: string, labels?: Record<string, string>): Promise<number>
  close(): Promise<void>
}

export function testConfig(options: Pick<ReadApiOptions, 'api' | 'redisUrl'> = {}): HaitheConfig {
  return loadConfig({
    env: {},
    overrides: {
      log: { level: process.env.TEST_LOG_LEVEL ?? 'silent', format: 'json' },
      api: {
        host: '127.0.0.1',
        port: 0,
        ...options.api,
        rateLimit: { anonymousPerMinute: 1_000_000, identifiedPerMinute: 1_000_000, ...options.api?.rateLimit },
      },
      redisUrl: options.redisUrl ?? null,
    },
  })
}

export async function startReadApi(database: DatabaseHandle, chainId: number, options: ReadApiOptions = {}): Promise<ReadApi> {
  const context = createContext(testConfig(options), 'read-api-test')
  const server = createApiServer(context, {
    api: context.config.api,
    redisUrl: context.config.redisUrl,
    rateLimitPrefix: `haithe:rl:test:${randomBytes(6).toString('hex')}`,
  })
  const { port } = await server.listen('127.0.0.1', 0)
  let notifications: IndexNotificationListener | undefined
  try {
    if (options.clock) {
      const readCtx: ReadContext = { db: database.readDb, chainId, now: options.clock }
      const cache = options.cache ? createHotCache({ ...context.config.api.cache, metrics: context.metrics }) : undefined
      notifications = await listenForIndexNotifications(database, chainId, { ...(cache ? { cache } : {}), logger: context.logger })
      server.serveReads(createReads(readCtx, cache), createEventFeed(readCtx, notifications))
    } else {
      await startReads(context, database, chainId, server)
    }
  } catch (err) {
    await server.close()
    throw err
  }
  const url = `http://127.0.0.1:${port}`

  const get = async <T>(path: string, query: Record<string, string | number | undefined> = {}, headers: Record<string, string> = {}): Promise<HttpAnswer<T>> => {
    const target = new URL(path, url)
    for (const [name, value] of Object.entries(query)) if (value !== undefined) target.searchParams.set(name, String(value))
    const response = await fetch(target, { headers })
    const text = await response.text()
    let body: unknown
    if ((response.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text)
    return { status: response.status, headers: response.headers, body: body as T, text }
  }

  const json = async <T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> => {
    const answer = await get<T>(path, query)
    if (answer.status !== 200) throw new Error(`GET ${path} ${JSON.stringify(query ?? {})}: ${answer.status} ${answer.text}`)
    return answer.body
  }

  return {
    url,
    context,
    server,
    get,
    json,
    async all<T>(path: string, query: Record<string, string | number | undefined> = {}) {
      const items: T[] = []
      let cursor: string | undefined
      for (let pages = 0; pages < 1_000; pages++) {
        const page = await json<{ items: T[]; next_cursor: string | null }>(path, { ...query, cursor })
        items.push(...page.items)
        if (page.next_cursor === null) return items
        cursor = page.next_cursor
      }
      throw new Error(`${path}: more than 1,000 pages`)
    },
    async metric(name, labels = {}) {
      const text = (await get('/metrics')).text
      for (const line of text.split('\n')) {
        const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
        if (!match || match[1] !== name) continue
        const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]))
        if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3])
      }
      return 0
    },
    async close() {
      await server.close()
      await notifications?.close()
      await context.shutdown.run('test done')
    },
  }
}

// ---------------------------------------------------------------------------------------------
// The WebSocket live feed
// ---------------------------------------------------------------------------------------------

export type LiveMessage =
  | { type: 'subscribed' }
  | { type: 'event'; event: EventView }
  | { type: 'caught_up'; block: number }
  | { type: 'rollback'; to_block: number }
  | { type: 'error'; code: string; message: string }

export interface LiveFeed {
  socket: WebSocket
  /** Every message received so far, in order. */
  messages: LiveMessage[]
  /** Sends `message` as JSON text (a string is sent as it is). */
  send(message: unknown): void
  /** The index of the first message (at or after `from`) satisfying `predicate`, polling until the deadline. */
  waitFor(what: string, predicate: (message: LiveMessage, index: number) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<number>
  close(): Promise<void>
}

/** Connects to the live feed of `apiUrl` (http://…) at /v1/ws. */
export async function openLiveFeed(apiUrl: string, path = '/v1/ws'): Promise<LiveFeed> {
  const socket = new WebSocket(`${apiUrl.replace(/^http/, 'ws')}${path}`)
  const messages: LiveMessage[] = []
  let closed: { code: number; reason: string } | undefined
  socket.on('message', (data) => void messages.push(JSON.parse(String(data)) as LiveMessage))
  socket.on('close', (code, reason) => void (closed = { code, reason: String(reason) }))
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })
  return {
    socket,
    messages,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    async waitFor(what, predicate, { from = 0, timeoutMs = 60_000 } = {}) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        for (let i = from; i < messages.length; i++) if (predicate(messages[i]!, i)) return i
        if (closed) throw new Error(`the live feed closed (${closed.code} ${closed.reason}) before ${what}`)
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last messages: ${JSON.stringify(messages.slice(-3))}`)
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve()
        socket.once('close', () => resolve())
        socket.close()
      }),
  }
}

/** What a client holds after applying the feed's messages: the events, minus those after each rollback's block. */
export function applyFeed(messages: readonly LiveMessage[]): EventView[] {
  let events: EventView[] = []
  for (const m of messages) {
    if (m.type === 'event') events.push(m.event)
    if (m.type === 'rollback') events = events.filter((e) => e.block_number <= m.to_block)
  }
  return events
}
