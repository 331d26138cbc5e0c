/** The outbox's metrics (shared by every outbox of a registry). */
import { Counter, Gauge } from 'prom-client'
import type { Registry } from '../../obs/index.js'

export interface OutboxMetrics {
  /** Settled transactions by kind and outcome (`confirmed`, `failed`). */
  transactions: Counter<'kind' | 'outcome'>
  /** Transactions not mined yet (queued or pending). */
  pending: Gauge
  replacements: Counter
}

export function createOutboxMetrics(registry: Registry): OutboxMetrics {
  const transactions =
    (registry.getSingleMetric('outbox_transactions_total') as Counter<'kind' | 'outcome'> | undefined) ??
    new Counter({ name: 'outbox_transactions_total', help: 'Server transactions settled, by kind and outcome (confirmed, failed)', labelNames: ['kind', 'outcome'], registers: [registry] })
  const pending =
    (registry.getSingleMetric('outbox_pending') as Gauge | undefined) ??
    new Gauge({ name: 'outbox_pending', help: 'Server transactions not mined yet (queued or pending)', registers: [registry] })
  const replacements =
    (registry.getSingleMetric('outbox_replacements_total') as Counter | undefined) ??
    new Counter({ name: 'outbox_replacements_total', help: 'Stuck server transactions replaced with a higher fee', registers: [registry] })
  return { transactions, pending, replacements }
}
