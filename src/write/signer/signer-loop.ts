/**
 * The signer: while this process holds the signer lock, rounds of send queued → follow pending
 * → confirm mined. A failing round (RPC or database down) is retried with backoff and logged
 * at most once a minute; nothing in here ends the loop but the signal.
 */
import { sleepUnlessAborted } from '../../obs/index.js'
import { leadSigning, type SignerLeadership } from './leader.js'
import { confirmMined, trackPending } from './receipts.js'
import { QUEUED_BATCH, sendQueued } from './send-queued.js'
import { ownRows, type SignerContext } from './signer-context.js'
import { createTroubleReporter, type TroubleReporter } from './trouble.js'

/** Wakes the signer early (after an enqueue in this process). */
export interface Waker {
  wake(): void
  sleep(ms: number, signal: AbortSignal): Promise<void>
}

export function createWaker(): Waker {
  let wakeUp: (() => void) | undefined
  return {
    wake: () => wakeUp?.(),
    sleep: (ms, signal) =>
      new Promise((resolve) => {
        if (signal.aborted) return resolve()
        const done = () => {
          clearTimeout(timer)
          signal.removeEventListener('abort', done)
          wakeUp = undefined
          resolve()
        }
        const timer = setTimeout(done, ms)
        signal.addEventListener('abort', done)
        wakeUp = done
      }),
  }
}

const LEADER_CHECK_MS = 5_000
/** How long `run` waits for a round in flight after the signal aborts (an RPC call may hang far longer). */
const STOP_GRACE_MS = 2_000

async function countUnsettled(s: SignerContext): Promise<Record<'queued' | 'pending' | 'mined', number>> {
  const rows = await ownRows(s)
    .clearSelect()
    .select(['status', (eb) => eb.fn.countAll<string>().as('count')])
    .where('status', 'in', ['queued', 'pending', 'mined'])
    .groupBy('status')
    .execute()
  const counts = { queued: 0, pending: 0, mined: 0 }
  for (const row of rows) counts[row.status as keyof typeof counts] = Number(row.count)
  return counts
}

export const backoffMs = (streak: number) => Math.min(30_000, 250 * 2 ** Math.min(streak, 7))

export async function runSigner(s: SignerContext, signal: AbortSignal, waker: Waker, pollMs: number): Promise<void> {
  const done = signLoop(s, signal, waker, pollMs)
  let timer: NodeJS.Timeout | undefined
  const stopped = new Promise<void>((resolve) => {
    const onAbort = () => {
      timer = setTimeout(resolve, STOP_GRACE_MS)
    }
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    await Promise.race([done, stopped])
  } finally {
    clearTimeout(timer)
  }
}

async function signLoop(s: SignerContext, signal: AbortSignal, waker: Waker, pollMs: number): Promise<void> {
  const trouble = createTroubleReporter(s.logger)
  while (!signal.aborted) {
    const leadership = await leadSigning(s.db, { chainId: s.chainId, address: s.from, signal, logger: s.logger, trouble })
    if (!leadership) return
    s.logger.info({ account: s.from, chainId: s.chainId }, 'outbox: signing (this process holds the signer lock)')
    // A new term sends every pending transaction again: what the last one sent may be lost.
    s.sentHere.clear()
    s.usedElsewhereSince.clear()
    try {
      await signWhileLeader(s, signal, waker, pollMs, leadership, trouble)
    } finally {
      await leadership.release().catch(() => undefined)
    }
  }
}

async function signWhileLeader(
  s: SignerContext, signal: AbortSignal, waker: Waker, pollMs: number, leadership: SignerLeadership, trouble: TroubleReporter,
): Promise<void> {
  let leaderCheckedAt = Date.now()
  while (!signal.aborted) {
    let busy: boolean
    try {
      if (Date.now() - leaderCheckedAt >= LEADER_CHECK_MS) {
        if (!(await leadership.stillHeld())) {
          s.logger.warn('outbox: the signer lock was lost (its database session ended); electing again')
          return
        }
        leaderCheckedAt = Date.now()
      }
      // One query when idle: what there is to do.
      const counts = await countUnsettled(s)
      s.metrics.pending.set(counts.queued + counts.pending)
      busy = counts.queued > 0 && (await sendQueued(s, signal)) >= QUEUED_BATCH
      if (counts.pending > 0) await trackPending(s, signal)
      if (counts.mined > 0) await confirmMined(s)
      trouble.recovered()
    } catch (err) {
      if (signal.aborted) return
      trouble.failed('a signing round', err)
      await sleepUnlessAborted(backoffMs(trouble.streak), signal)
      continue
    }
    if (!busy) await waker.sleep(pollMs, signal)
  }
}
