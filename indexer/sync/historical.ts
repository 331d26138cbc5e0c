/**
 * Backfill fetching: block ranges sized adaptively, several requests in flight, results
 * handed over strictly in order. A range the provider refuses as too large is split in two
 * (or cut to the provider's suggestion) and fetched again; the sizer learns from both.
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
}

async function fetchRange(options: HistoricalOptions, from: number, to: number): Promise<PlacedLog[]> {
  const span = to - from + 1
  try {
    const raw = await fetchLogs(options.rpc, options.sources, rangeFilter(from, to))
    options.sizer.succeeded(span, raw.length)
    return await placeLogs(options.rpc, raw)
  } catch (err) {
    if (!(err instanceof RpcRangeTooLargeError) || span === 1) throw err
    const suggested = err.suggestedRange ? Number(err.suggestedRange.to - err.suggestedRange.from) + 1 : undefined
    options.sizer.tooLarge(span, suggested)
    const firstSpan = Math.max(1, Math.min(suggested ?? Math.ceil(span / 2), span - 1))
    const first = await fetchRange(options, from, from + firstSpan - 1)
    const rest = await fetchRange(options, from + firstSpan, to)
    return first.concat(rest)
  }
}

export async function* fetchHistorical(options: HistoricalOptions): AsyncGenerator<FetchedRange> {
  const inflight: Promise<FetchedRange>[] = []
  let next = options.from
  try {
    while (next <= options.to || inflight.length > 0) {
      while (inflight.length < options.concurrency && next <= options.to) {
        const from = next
        const to = Math.min(options.to, from + options.sizer.size() - 1)
        const pending = fetchRange(options, from, to).then((logs) => ({ from, to, logs }))
        pending.catch(() => {}) // awaited in order below; this only marks it handled
        inflight.push(pending)
        next = to + 1
      }
      yield await inflight.shift()!
    }
  } finally {
    inflight.length = 0
  }
}
