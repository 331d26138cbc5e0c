// Pure parts of the read side: cursors, parameters, time buckets, windows, the hot cache, OpenAPI.
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { buildOpenApiDocument } from '../src/api/openapi.js'
import { routes } from '../src/api/routes.js'
import { createHotCache } from '../src/cache/index.js'
import {
  bucketStart, decodeCursor, encodeCursor, InvalidArgumentError, leaderboardQuery, parseParams, paymentListQuery, productListQuery, seriesBuckets,
  seriesQuery, windowStart,
} from '../src/read/index.js'

const invalid = (fn: () => unknown) => {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError)
    return (err as InvalidArgumentError)
  }
  throw new Error('expected an InvalidArgumentError')
}

describe('cursors', () => {
  it('round-trip the key of their ordering and refuse anything else', () => {
    const cursor = encodeCursor('products:revenue', ['1000', '0xab'])
    expect(decodeCursor(cursor, 'products:revenue', ['string', 'string'])).toEqual(['1000', '0xab'])
    expect(invalid(() => decodeCursor(cursor, 'products:price', ['string', 'string'])).message).toMatch(/another list or sort order/)
    expect(invalid(() => decodeCursor('not-a-cursor', 'products:revenue', ['string', 'string'])).parameter).toBe('cursor')
    expect(invalid(() => decodeCursor(encodeCursor('products:revenue', ['1', 2]), 'products:revenue', ['string', 'string'])).parameter).toBe('cursor')
    // A key smuggling SQL or anything but digits/hex is refused before it reaches a query.
    expect(invalid(() => decodeCursor(encodeCursor('payments', ["1' or 1=1"]), 'payments', ['string'])).parameter).toBe('cursor')
    expect(decodeCursor(undefined, 'payments', ['number'])).toBeUndefined()
  })
})

describe('parameters', () => {
  it('apply defaults and normalise addresses', () => {
    const q = parseParams(productListQuery, { creator: '0xABCDEF0123456789abcdef0123456789ABCDEF01' })
    expect(q).toMatchObject({ limit: 20, sort: 'revenue', creator: '0xabcdef0123456789abcdef0123456789abcdef01' })
    expect(parseParams(leaderboardQuery, {})).toEqual({ metric: 'revenue', window: 'all', limit: 10 })
  })

  it('name the bad parameter and say what it must be', () => {
    expect(invalid(() => parseParams(productListQuery, { limit: '0' })).message).toBe('limit: must be at least 1')
    expect(invalid(() => parseParams(productListQuery, { limit: '101' })).message).toBe('limit: must be at most 100')
    expect(invalid(() => parseParams(productListQuery, { limit: '1.5' })).parameter).toBe('limit')
    expect(invalid(() => parseParams(productListQuery, { sort: 'cheapest' })).message).toMatch(/^sort: must be revenue, calls, price or newest/)
    expect(invalid(() => parseParams(productListQuery, { creator: '0x12' })).message).toMatch(/^creator: must be a 0x-prefixed/)
    expect(invalid(() => parseParams(paymentListQuery, { from_block: '-1' })).parameter).toBe('from_block')
    expect(invalid(() => parseParams(paymentListQuery, { limit: ['1', '2'] })).parameter).toBe('limit')
    expect(invalid(() => parseParams(paymentListQuery, { colour: 'red' })).message).toBe('colour: is not a parameter of this request')
    expect(invalid(() => parseParams(seriesQuery, { from: '2026-13-45' })).parameter).toBe('from')
  })
})

describe('time buckets', () => {
  const now = new Date('2026-11-23T15:30:00Z') // a Monday

  it('start weeks on Monday and months on the 1st, in UTC', () => {
    expect(bucketStart(new Date('2026-11-29T23:59:59Z'), 'week').toISOString()).toBe('2026-11-23T00:00:00.000Z')
    expect(bucketStart(new Date('2026-11-23T00:00:00Z'), 'week').toISOString()).toBe('2026-11-23T00:00:00.000Z')
    expect(bucketStart(new Date('2026-11-29T10:00:00Z'), 'month').toISOString()).toBe('2026-11-01T00:00:00.000Z')
  })

  it('default to 30 days, 26 weeks or 12 months ending today, and refuse inverted or huge ranges', () => {
    expect(seriesBuckets(parseParams(seriesQuery, {}), now)).toHaveLength(30)
    expect(seriesBuckets(parseParams(seriesQuery, { granularity: 'week' }), now)).toHaveLength(26)
    const months = seriesBuckets(parseParams(seriesQuery, { granularity: 'month' }), now)
    expect(months.map((m) => m.toISOString().slice(0, 10))).toEqual([...Array(12)].map((_, i) => new Date(Date.UTC(2025, 11 + i, 1)).toISOString().slice(0, 10)))
    expect(invalid(() => seriesBuckets(parseParams(seriesQuery, { from: '2026-11-24', to: '2026-11-23' }), now)).message).toBe('from: must not be after to')
    expect(invalid(() => seriesBuckets(parseParams(seriesQuery, { from: '2000-01-01' }), now)).parameter).toBe('from')
  })

  it('align leaderboard windows to whole hours and days', () => {
    expect(windowStart('24h', now).toISOString()).toBe('2026-11-22T16:00:00.000Z')
    expect(windowStart('7d', now).toISOString()).toBe('2026-11-17T00:00:00.000Z')
    expect(windowStart('30d', now).toISOString()).toBe('2026-10-25T00:00:00.000Z')
  })
})

describe('hot cache', () => {
  it('serves hits, drops entries of the tables a commit touched, and shares one load between concurrent misses', async () => {
    const metrics = new Registry()
    const cache = createHotCache({ maxEntries: 100, maxBytes: 1_000_000, metrics })
    let loads = 0
    const load = async () => ({ n: ++loads })
    const [a, b] = await Promise.all([cache.get('stats', ['market_totals'], load), cache.get('stats', ['market_totals'], load)])
    expect(a.value).toEqual({ n: 1 })
    expect(b.value).toEqual({ n: 1 })
    expect((await cache.get('stats', ['market_totals'], load)).json).toBe('{"n":1}')
    cache.invalidate(['products'])
    expect((await cache.get('stats', ['market_totals'], load)).value).toEqual({ n: 1 })
    cache.invalidate(['market_totals'])
    expect((await cache.get('stats', ['market_totals'], load)).value).toEqual({ n: 2 })
    // 2 hits of 5 lookups (the joined concurrent miss counts as a miss).
    expect(await metrics.getSingleMetricAsString('read_cache_hit_ratio')).toMatch(/read_cache_hit_ratio 0\.4/)
  })

  it('does not store an answer loaded while an invalidation arrived', async () => {
    const cache = createHotCache({ maxEntries: 100, maxBytes: 1_000_000 })
    let release!: () => void
    const slow = cache.get('k', ['creators'], () => new Promise<string>((resolve) => { release = () => resolve('old') }))
    cache.invalidate(['creators'])
    release()
    expect((await slow).value).toBe('old')
    expect((await cache.get('k', ['creators'], async () => 'new')).value).toBe('new')
  })

  it('stays within its byte budget and caches nothing while disabled', async () => {
    const cache = createHotCache({ maxEntries: 1_000, maxBytes: 2_000 })
    for (let i = 0; i < 50; i++) await cache.get(`k${i}`, ['t'], async () => 'x'.repeat(100))
    expect(cache.size).toBeLessThan(20)
    cache.setEnabled(false)
    expect(cache.size).toBe(0)
    await cache.get('k', ['t'], async () => 1)
    expect(cache.size).toBe(0)
  })
})

describe('OpenAPI document', () => {
  it('documents every route with its parameters and a response schema', () => {
    const doc = buildOpenApiDocument(routes, { version: 'test' }) as { openapi: string; paths: Record<string, { get: { parameters: { name: string; in: string; required: boolean }[]; responses: Record<string, unknown> } }>; components: { schemas: Record<string, unknown> } }
    expect(doc.openapi).toBe('3.1.0')
    expect(Object.keys(doc.paths)).toHaveLength(routes.length)
    const products = doc.paths['/v1/products']!.get
    expect(products.parameters.map((p) => p.name)).toEqual(['limit', 'cursor', 'category', 'creator', 'q', 'sort'])
    expect(doc.paths['/v1/organizations/{address}']!.get.parameters).toContainEqual(expect.objectContaining({ name: 'address', in: 'path', required: true }))
    expect(doc.components.schemas).toHaveProperty('Organization')
    expect(JSON.stringify(doc)).not.toContain('#/$defs/')
  })
})
