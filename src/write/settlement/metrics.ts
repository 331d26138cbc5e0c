/** The settler's metrics (shared by every settler of a registry). */
import { Counter, Gauge } from 'prom-client'
import type { Registry } from '../../obs/index.js'

export interface SettlementMetrics {
  /** Batches by outcome: `created`, `settled`, `failed`. */
  batches: Counter<'outcome'>
  /** Ledger settled total minus on-chain settled total, per organization (0 when they agree). */
  difference: Gauge<'organization'>
  /** Σ |difference| over every organization. */
  absoluteDifference: Gauge
}

export function createSettlementMetrics(registry: Registry): SettlementMetrics {
  const batches =
    (registry.getSingleMetric('settlement_batches_total') as Counter<'outcome'> | undefined) ??
    new Counter({ name: 'settlement_batches_total', help: 'Settlement batches by outcome (created, settled, failed)', labelNames: ['outcome'], registers: [registry] })
  const difference =
    (registry.getSingleMetric('settlement_reconciliation_difference') as Gauge<'organization'> | undefined) ??
    new Gauge({
      name: 'settlement_reconciliation_difference',
      help: 'Settled ledger total minus on-chain settlement total (tUSDT base units), per organization',
      labelNames: ['organization'], registers: [registry],
    })
  const absoluteDifference =
    (registry.getSingleMetric('settlement_reconciliation_absolute_difference') as Gauge | undefined) ??
    new Gauge({
      name: 'settlement_reconciliation_absolute_difference',
      help: 'Sum over organizations of |settled ledger total - on-chain settlement total| (tUSDT base units)',
      registers: [registry],
    })
  return { batches, difference, absoluteDifference }
}
