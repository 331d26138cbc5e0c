/**
 * What every inference call reads before it can start — who the caller is allowed to be, the
 * model, its enrolment, the project's settings and products — remembered for a moment
 * (`CALL_CACHE_TTL_MS`) per process, so a busy client pays for those reads once a second
 * instead of on every call. A change (a member removed, a product disabled, a new price) applies
 * within that moment on every replica, and at once on the replica that made it (a write route
 * clears the cache). Failures are not remembered. Credentials are still verified per call.
 */
import { LRUCache } from 'lru-cache'

export const CALL_CACHE_TTL_MS = 1_000

export interface CallCache {
  /** The value under `key`, loaded once per TTL (concurrent callers share the load). */
  get<T>(key: string, load: () => Promise<T>): Promise<T>
  clear(): void
}

export function createCallCache(options: { ttlMs?: number; max?: number } = {}): CallCache {
  const cache = new LRUCache<string, Promise<unknown>>({ max: options.max ?? 10_000, ttl: options.ttlMs ?? CALL_CACHE_TTL_MS })
  return {
    get<T>(key: string, load: () => Promise<T>): Promise<T> {
      const hit = cache.get(key)
      if (hit) return hit as Promise<T>
      const loading = load()
      cache.set(key, loading)
      loading.catch(() => {
        if (cache.get(key) === loading) cache.delete(key)
      })
      return loading
    },
    clear: () => cache.clear(),
  }
}
