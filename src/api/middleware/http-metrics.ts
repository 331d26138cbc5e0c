import type { Middleware } from 'koa'
import { Histogram } from 'prom-client'
import type { Registry } from '../../obs/index.js'
import { statusOfFailure } from './errors.js'
import { routePattern } from './route.js'

export interface HttpMetricsOptions {
  registry: Registry
  /** Histogram buckets in seconds. */
  buckets?: number[]
}

type Labels = 'method' | 'route' | 'status'
const name = 'http_request_duration_seconds'
const knownMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'])

/**
 * `http_request_duration_seconds{method,route,status}`. `route` is the matched route pattern,
 * `_unmatched` when no route matched (a scanner's random paths must not create series).
 * Creating it twice on one registry reuses the registered histogram.
 */
export type ObserveRequest = (method: string, route: string, status: number, seconds: number) => void

/** Records one request in `http_request_duration_seconds` (the fast lane records its answers with it too). */
export function createRequestObserver(options: HttpMetricsOptions): ObserveRequest {
  const histogram =
    (options.registry.getSingleMetric(name) as Histogram<Labels> | undefined) ??
    new Histogram<Labels>({
      name,
      help: 'Duration of read API HTTP requests, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: options.buckets ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [options.registry],
    })
  // One labelled child per (method, route, status): the labels are checked once, not per request.
  // Bounded: methods, route patterns and statuses are all few.
  const children = new Map<string, { observe(seconds: number): void }>()
  const observe = (method: string, route: string, status: number, seconds: number) => {
    const key = `${method} ${status} ${route}`
    let child = children.get(key)
    if (!child) children.set(key, (child = histogram.labels(method, route, String(status))))
    child.observe(seconds)
  }
  return observe
}

export function createHttpMetrics(options: HttpMetricsOptions): Middleware {
  const observe = createRequestObserver(options)
  return async (ctx, next) => {
    const started = performance.now()
    let failure: unknown
    try {
      await next()
    } catch (err) {
      failure = err
      throw err
    } finally {
      observe(
        knownMethods.has(ctx.method) ? ctx.method : '_other',
        routePattern(ctx) ?? '_unmatched',
        failure === undefined ? ctx.status : statusOfFailure(failure),
        (performance.now() - started) / 1000,
      )
    }
  }
}
