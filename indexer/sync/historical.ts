/**
 * Backfill fetching: block ranges sized adaptively, several requests in flight, results
 * handed over strictly in order. A range the provider refuses as too large is split in two
 * (or cut to the provider's suggestion) and fetched again; the sizer learns from both.
 *
 * A long range is first sampled at its last block. Grown over sparse blocks, the span knows
 * nothing of the blocks ahead: where activity jumps (a contract's quiet first blocks, then a busy
 * market) one range could cover hundreds of thousands of logs, which the node builds in full
 * (seconds of its CPU) before the byte cap refuses them, once per range in flight. One block's logs
 * cost little and show the density at the far end.
 */
import type { PlacedLog } from '../handlers/index.js'
import { fetchLogs, placeLogs, rangeFilter, type LogSources } from './fetch-logs.js'
import type { RangeSizer } from './ranges.js'
import { RpcRangeTooLargeError, type RpcClient } from './rpc.js'

export interface FetchedRange {
  from: number
  to: number
  logs: PlacedLog[]
}

export interface HistoricalOptions {
  rpc: RpcClient
  sources: LogSources
  sizer: RangeSizer
  from: number
  to: number
  concurrency: number
  /** Logs a request aims at (the sizer's target): a range whose last block alone says it would hold far more is cut first. */
  targetLogs: number
  /** Fetched logs allowed to wait for the consumer (default 100,000). */
  maxBufferedLogs?: number
}

/** Ranges longer than this are sampled at their last block before they are fetched. */
const SAMPLE_ABOVE_BLOCKS = 16

/**
 * The span to fetch from `from`: the sizer's, unless the last block of that span alone holds so
 * many logs that the span would hold over twice the target. Then the busy blocks may start anywhere
 * in it: its first half is sampled the same way, and so on, which finds the quiet blocks before
 * them in a few one-block requests. Down to a span too short to sample, as many blocks of the last
 * density seen as make the target.
 */
async function sampledSpan(options: HistoricalOptions, from: number, to: number): Promise<number> {
  let span = to - from + 1
  if (span <= SAMPLE_ABOVE_BLOCKS) return span
  for (;;) {
    const last = from + span - 1
    const atEnd = (await fetchLogs(options.rpc, options.sources, rangeFilter(last, last))).length
    if (atEnd * span <= 2 * options.targetLogs) return span
    const fit = Math.max(1, Math.floor(options.targetLogs / atEnd))
    const half = Math.ceil(span / 2)
    if (fit >= half || half <= SAMPLE_ABOVE_BLOCKS) return fit
    span = half
  }
}

/**
 * The logs of [from, x], x ≤ upTo, as much as the sizer allows and the provider accepts: a
 * refused range is cut to the provider's suggestion or halved until it passes. The caller
 * fetches (x, upTo] next.
 */
async function fetchPrefix(options: HistoricalOptions, from: number, upTo: number): Promise<FetchedRange> {
  // What the sizer now thinks fits: a remainder after a refusal is not asked for whole again.
  const span = await sampledSpan(options, from, Math.min(upTo, from + options.sizer.size() - 1))
  const to = from + span - 1
  try {
    const raw = await fetchLogs(options.rpc, options.sources, rangeFilter(from, to))
    options.sizer.succeeded(span, raw.length)
    return { from, to, logs: await placeLogs(options.rpc, raw) }
  } catch (err) {
    if (!(err instanceof RpcRangeTooLargeError) || span === 1) throw err
    const suggested = err.suggestedRange
      ? Number(err.suggestedRange.to - err.suggestedRange.from) + 1
      : err.overCap ? Math.floor(span / err.overCap) : undefined
    options.sizer.tooLarge(span, suggested)
    const firstSpan = Math.max(1, Math.min(suggested ?? Math.ceil(span / 2), span - 1))
    return fetchPrefix(options, from, from + firstSpan - 1)
  }
}

/**
 * Ranges in order. Fetching runs ahead of the consumer — new requests go out as earlier ones
 * complete, also while the consumer is busy writing — until `maxBufferedLogs` fetched logs wait
 * unconsumed: that bound, not the number of ranges, is what caps memory.
 */
export async function* fetchHistorical(options: HistoricalOptions): AsyncGenerator<FetchedRange> {
  const maxBuffered = options.maxBufferedLogs ?? 100_000
  /** Ranges in the order they are handed over; a slot is fetched once there is room for it. */
  const queue: Slot[] = []
  let inflight = 0
  let buffered = 0
  let failed = false
  let next = options.from

  const hasRoom = () => !failed && inflight < options.concurrency && buffered < maxBuffered
  const start = (slot: Slot) => {
    inflight += 1
    slot.pending = fetchPrefix(options, slot.from, slot.to).then(
      (range) => {
        inflight -= 1
        buffered += range.logs.length
        // Only a prefix was accepted: the rest comes right after it, ahead of later ranges. It
        // waits for room like any range: fetching it at once let a large range that splits
        // again and again run ahead of the consumer without bound.
        if (range.to < slot.to) queue.splice(queue.indexOf(slot) + 1, 0, { from: range.to + 1, to: slot.to })
        pump()
        return range
      },
      (err: unknown) => {
        inflight -= 1
        failed = true
        throw err
      },
    )
    slot.pending.catch(() => {}) // awaited in order below; this only marks it handled
  }
  const pump = () => {
    for (const slot of queue) {
      if (!hasRoom()) return
      if (!slot.pending) start(slot)
    }
    while (hasRoom() && next <= options.to) {
      const slot = { from: next, to: Math.min(options.to, next + options.sizer.size() - 1) }
      next = slot.to + 1
      queue.push(slot)
      start(slot)
    }
  }

  pump()
  while (queue.length > 0) {
    const slot = queue[0]!
    // The consumer waits for this one: fetch it now even if the buffer is full.
    if (!slot.pending) start(slot)
    const range = await slot.pending!
    queue.shift()
    buffered -= range.logs.length
    pump()
    yield range
  }
}

interface Slot {
  from: number
  to: number
  /** Set once its fetch started. */
  pending?: Promise<FetchedRange>
}
