/**
 * Billing's metrics. Amounts are tUSDT base units (up to 78 digits): a float counter of them would
 * not be money-safe, so metrics count calls only; amounts are read from the ledger (the usage route).
 */
import { Counter } from 'prom-client'
import type { Registry } from '../../obs/index.js'

export type ReservationOutcome = 'reserved' | 'insufficient_balance' | 'monthly_limit'

export interface BillingMetrics {
  /** reserve() calls by outcome. */
  reservations: Counter<'outcome'>
  /** Reservations closed, by outcome (`charged`, `released`). */
  settledCalls: Counter<'outcome'>
}

export function createBillingMetrics(registry: Registry): BillingMetrics {
  const reservations =
    (registry.getSingleMetric('billing_reservations_total') as Counter<'outcome'> | undefined) ??
    new Counter({ name: 'billing_reservations_total', help: 'Reservations of inference calls by outcome (reserved, insufficient_balance, monthly_limit)', labelNames: ['outcome'], registers: [registry] })
  const settledCalls =
    (registry.getSingleMetric('billing_calls_total') as Counter<'outcome'> | undefined) ??
    new Counter({ name: 'billing_calls_total', help: 'Reserved inference calls closed, by outcome (charged, released)', labelNames: ['outcome'], registers: [registry] })
  return { reservations, settledCalls }
}
