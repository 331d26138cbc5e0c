/**
 * The settler: every `intervalMs`, follows pending batches (settled once indexed, failed when
 * their transaction failed), batches each organization's charged lines into a settleUsage
 * through the outbox, and refreshes the reconciliation metrics.
 *
 * An organization whose batch failed (e.g. it lacks tUSDT) waits before its lines are batched
 * again, twice as long after each failure in a row (up to `maxBackoffMs`), so it never makes a
 * hot loop of reverting transactions.
 */
import type { Kysely } from 'kysely'
import type { ChainConfig } from '../../config/index.js'
import type { Database } from '../../db/index.js'
import { sleepUnlessAborted, type Logger, type Registry } from '../../obs/index.js'
import { releaseStaleReservations } from '../billing/stale.js'
import type { Outbox } from '../signer/outbox.js'
import { createBatch, organizationsToSettle, type CreatedBatch } from './batch.js'
import { followBatch, pendingBatches, type BatchOutcome } from './mark-settled.js'
import { createSettlementMetrics } from './metrics.js'
import { reconcile } from './reconcile.js'

export interface SettlerOptions {
  db: Kysely<Database>
  chain: ChainConfig
  outbox: Outbox
  logger: Logger
  metrics: Registry
  /** Between two rounds (proposed config key gateway.settlementIntervalMs). Default 30 s. */
  intervalMs?: number
  /** Lines per batch at most (proposed gateway.settlementMaxLinesPerBatch). Default 500. */
  maxLinesPerBatch?: number
  /** The wait after an organization's first failed batch (doubles after each). Default 60 s. */
  failureBackoffMs?: number
  maxBackoffMs?: number
  /** A reservation still open after this long belongs to a call whose process died: released. Default 15 min. */
  staleReservationMs?: number
  /** The clock (ms), for the back-off. */
  now?: () => number
}

export interface SettlerRound {
  outcomes: BatchOutcome[]
  created: CreatedBatch[]
}

export interface Settler {
  /** One round: follow pending batches, create new ones, update the metrics. */
  tick(): Promise<SettlerRound>
  /** Rounds every intervalMs until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>
}

export function createSettler(options: SettlerOptions): Settler {
  const { db, chain, outbox, logger } = options
  const intervalMs = options.intervalMs ?? 30_000
  const maxLines = options.maxLinesPerBatch ?? 500
  const baseBackoff = options.failureBackoffMs ?? 60_000
  const maxBackoff = options.maxBackoffMs ?? 3_600_000
  const now = options.now ?? Date.now
  const staleAfter = options.staleReservationMs ?? 15 * 60_000
  const metrics = createSettlementMetrics(options.metrics)
  /** Per organization: failures in a row and when it may be batched again. */
  const backoff = new Map<string, { failures: number; until: number }>()

  async function tick(): Promise<SettlerRound> {
    const released = await releaseStaleReservations(db, chain.chainId, new Date(now() - staleAfter))
    if (released > 0) logger.warn({ lines: released, olderThanMs: staleAfter }, 'settlement: released reservations no call closed (a gateway process died mid-call)')
    const outcomes: BatchOutcome[] = []
    for (const batch of await pendingBatches({ db, chain })) {
      const outcome = await followBatch({ db, chain, outbox }, batch)
      if (!outcome) continue
      outcomes.push(outcome)
      metrics.batches.inc({ outcome: outcome.outcome })
      if (outcome.outcome === 'settled') {
        backoff.delete(outcome.organization)
        logger.info({ batchId: outcome.batchId, organization: outcome.organization, txHash: outcome.txHash, lines: batch.lines, total: batch.total }, 'settlement: batch settled')
      } else {
        const failures = (backoff.get(outcome.organization)?.failures ?? 0) + 1
        const wait = Math.min(maxBackoff, baseBackoff * 2 ** (failures - 1))
        backoff.set(outcome.organization, { failures, until: now() + wait })
        logger.warn(
          { batchId: outcome.batchId, organization: outcome.organization, error: outcome.error, lines: batch.lines, total: batch.total, retryInMs: wait },
          'settlement: batch failed; its lines go back to be settled later',
        )
      }
    }

    const created: CreatedBatch[] = []
    for (const organization of await organizationsToSettle({ db, chain })) {
      const waiting = backoff.get(organization)
      if (waiting && waiting.until > now()) continue
      try {
        const batch = await createBatch({ db, chain, outbox }, organization, maxLines)
        if (!batch) continue
        created.push(batch)
        metrics.batches.inc({ outcome: 'created' })
        logger.info({ batchId: batch.batchId, organization, lines: batch.lines, total: batch.total.toString(), outboxId: batch.outboxId }, 'settlement: batch queued')
      } catch (err) {
        const failures = (waiting?.failures ?? 0) + 1
        backoff.set(organization, { failures, until: now() + Math.min(maxBackoff, baseBackoff * 2 ** (failures - 1)) })
        logger.error({ err, organization }, 'settlement: could not batch the organization\'s lines')
      }
    }

    await updateReconciliation()
    return { outcomes, created }
  }

  async function updateReconciliation(): Promise<void> {
    let absolute = 0n
    for (const r of await reconcile({ db, chain })) {
      metrics.difference.set({ organization: r.organization }, Number(r.difference))
      absolute += r.difference < 0n ? -r.difference : r.difference
      if (r.difference !== 0n) {
        logger.warn({ organization: r.organization, ledger: r.ledgerSettled.toString(), onChain: r.onChainSettled.toString() }, 'settlement: ledger and chain disagree')
      }
    }
    metrics.absoluteDifference.set(Number(absolute))
  }

  return {
    tick,
    async run(signal) {
      while (!signal.aborted) {
        try {
          await tick()
        } catch (err) {
          logger.error({ err }, 'settlement: round failed')
        }
        await sleepUnlessAborted(intervalMs, signal)
      }
    },
  }
}
