import { Counter, Gauge, type Registry } from 'prom-client'

function gauge(registry: Registry, name: string, help: string): Gauge {
  return (registry.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, registers: [registry] })
}
function counter(registry: Registry, name: string, help: string): Counter {
  return (registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, registers: [registry] })
}

export function createIndexerMetrics(registry: Registry) {
  return {
    head: gauge(registry, 'indexer_head_block', 'Latest block number reported by the RPC node'),
    indexed: gauge(registry, 'indexer_indexed_block', 'Last block whose events are all applied to the index'),
    lag: gauge(registry, 'indexer_lag_blocks', 'Blocks between the head and the indexed block'),
    events: counter(registry, 'indexer_events_total', 'Contract events applied to the index'),
    reorgs: counter(registry, 'indexer_reorgs_total', 'Chain reorganisations rolled back'),
  }
}

export type IndexerMetrics = ReturnType<typeof createIndexerMetrics>
