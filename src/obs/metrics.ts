import { collectDefaultMetrics, Registry } from 'prom-client'

export type { Registry }

/** A process's Prometheus registry, with Node's default metrics (memory, event loop, GC). */
export function createMetricsRegistry(prefix = ''): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix })
  return registry
}
