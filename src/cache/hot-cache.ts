/**
 * The read API's hot cache: a size-bounded LRU of query results, each tagged with the chain
 * tables it was read from. The indexer's NOTIFY names the tables a commit touched; their
 * entries are dropped at once. A load that was running when an invalidation arrived is
 * answered but not stored, so no entry is older than the last commit this replica was told of.
 * Concurrent misses on one key share one load.
 */
import { LRUCache } from 'lru-cache'
import { Counter, Gauge, type Registry } from 'prom-client'

export interface CachedValue<T> {
  value: T
  /** `value` as JSON, made once when the entry is filled (its size, and REST's body). */
  json: string
}

export interface HotCache {
  get<T>(key: string, tables: readonly string[], load: () => Promise<T>): Promise<CachedValue<T>>
  /** Drops every entry read from one of `tables`. */
  invalidate(tables: readonly string[]): void
  /** Drops everything (e.g. after notifications may have been missed). */
  clear(): void
  /** While false every get loads afresh and stores nothing (no notifications, no caching). */
  setEnabled(enabled: boolean): void
  readonly size: number
}

export interface HotCacheOptions {
  maxEntries: number
  maxBytes: number
  metrics?: Registry
}

function cacheMetrics(registry: Registry | undefined) {
  const existing = registry?.getSingleMetric('read_cache_requests_total') as Counter<'result'> | undefined
  const requests = existing ?? new Counter({ name: 'read_cache_requests_total', help: 'Hot cache lookups by result (hit, miss, bypass)', labelNames: ['result'], registers: registry ? [registry] : [] })
  if (!registry?.getSingleMetric('read_cache_hit_ratio')) {
    new Gauge({
      name: 'read_cache_hit_ratio',
      help: 'Hits over hits plus misses since start',
      registers: registry ? [registry] : [],
      async collect() {
        const values = (await requests.get()).values
        const count = (result: string) => values.find((v) => v.labels.result === result)?.value ?? 0
        const total = count('hit') + count('miss')
        this.set(total === 0 ? 0 : count('hit') / total)
      },
    })
  }
  return requests
}

export function createHotCache(options: HotCacheOptions): HotCache {
  const requests = cacheMetrics(options.metrics)
  const keysByTable = new Map<string, Set<string>>()
  const tablesByKey = new Map<string, readonly string[]>()
  const lru = new LRUCache<string, CachedValue<unknown>>({
    max: options.maxEntries,
    maxSize: options.maxBytes,
    sizeCalculation: (entry, key) => entry.json.length + key.length + 64,
    dispose: (_entry, key) => {
      for (const table of tablesByKey.get(key) ?? []) keysByTable.get(table)?.delete(key)
      tablesByKey.delete(key)
    },
  })
  const loading = new Map<string, Promise<CachedValue<unknown>>>()
  let generation = 0
  let enabled = true

  const store = (key: string, tables: readonly string[], entry: CachedValue<unknown>) => {
    lru.set(key, entry)
    if (!lru.has(key)) return // larger than the whole cache
    tablesByKey.set(key, tables)
    for (const table of tables) {
      let keys = keysByTable.get(table)
      if (!keys) keysByTable.set(table, (keys = new Set()))
      keys.add(key)
    }
  }

  return {
    async get<T>(key: string, tables: readonly string[], load: () => Promise<T>): Promise<CachedValue<T>> {
      if (!enabled) {
        requests.inc({ result: 'bypass' })
        const value = await load()
        return { value, json: JSON.stringify(value) }
      }
      const hit = lru.get(key)
      if (hit) {
        requests.inc({ result: 'hit' })
        return hit as CachedValue<T>
      }
      requests.inc({ result: 'miss' })
      const loadKey = `${generation}\u0000${key}`
      let pending = loading.get(loadKey)
      if (!pending) {
        const startedAt = generation
        pending = (async () => {
          try {
            const value = await load()
            const entry = { value, json: JSON.stringify(value) }
            if (startedAt === generation && enabled) store(key, tables, entry)
            return entry
          } finally {
            loading.delete(loadKey)
          }
        })()
        loading.set(loadKey, pending)
      }
      return pending as Promise<CachedValue<T>>
    },
    invalidate(tables) {
      generation++
      for (const table of tables) {
        const keys = keysByTable.get(table)
        if (!keys) continue
        for (const key of [...keys]) lru.delete(key)
      }
    },
    clear() {
      generation++
      lru.clear()
    },
    setEnabled(value) {
      if (!value) this.clear()
      enabled = value
    },
    get size() {
      return lru.size
    },
  }
}
