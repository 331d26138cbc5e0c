/** The backfill's progress line: blocks done of target, events/s and an ETA. */
export interface ProgressSnapshot {
  fromBlock: number
  toBlock: number
  doneBlock: number
  events: number
  elapsedMs: number
}

const duration = (seconds: number) => {
  if (!Number.isFinite(seconds)) return '?'
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const rest = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`
}

export function describeProgress(p: ProgressSnapshot): { message: string; eventsPerSecond: number; percent: number } {
  const total = p.toBlock - p.fromBlock + 1
  const done = Math.min(total, Math.max(0, p.doneBlock - p.fromBlock + 1))
  const seconds = p.elapsedMs / 1000
  const eventsPerSecond = seconds > 0 ? Math.round(p.events / seconds) : 0
  const percent = total > 0 ? (100 * done) / total : 100
  const eta = done > 0 ? (seconds * (total - done)) / done : Infinity
  const message =
    `backfill: block ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} (${percent.toFixed(1)}%), ` +
    `${eventsPerSecond.toLocaleString('en-US')} events/s, ETA ${duration(eta)}`
  return { message, eventsPerSecond, percent }
}
