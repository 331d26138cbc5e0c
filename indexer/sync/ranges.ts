/**
 * Adaptive block-range sizing for `eth_getLogs`: aim at `targetLogs` logs per request, grow
 * the span over sparse blocks, shrink it over dense ones, halve it (or take the provider's
 * suggestion) when the provider refuses a range as too large. Pure: no I/O, no clock.
 */

export interface RangeSizerOptions {
  /** The first span to request, in blocks. */
  initialBlocks: number
  /** Never request fewer blocks than this; default 1. */
  minBlocks?: number
  /** Never request more blocks than this (e.g. the provider's documented block limit). */
  maxBlocks: number
  /** Logs per request to aim at (responses stay well under the byte caps). */
  targetLogs: number
  /**
   * After a range was refused, growth stops at the span that worked until this many requests in
   * a row succeed; then the sizer probes larger spans again. Default 32.
   */
  probeAfterSuccesses?: number
}

export interface RangeSizer {
  /** The span, in blocks, to request next. */
  size(): number
  /** A request over `span` blocks returned `logCount` logs. */
  succeeded(span: number, logCount: number): void
  /** A request over `span` blocks was refused as too large; `suggestedSpan` from the provider's message if it named one. */
  tooLarge(span: number, suggestedSpan?: number): void
}

/** Growth per successful request is at most this factor. */
const maxGrowth = 2
/** Up to this many times the target, a span is kept as it is. */
const shrinkAbove = 2

export function createRangeSizer(options: RangeSizerOptions): RangeSizer {
  const minBlocks = Math.max(1, Math.floor(options.minBlocks ?? 1))
  const maxBlocks = Math.floor(options.maxBlocks)
  const targetLogs = options.targetLogs
  const probeAfter = options.probeAfterSuccesses ?? 32
  if (!(maxBlocks >= minBlocks)) throw new RangeError(`maxBlocks (${options.maxBlocks}) must be at least minBlocks (${minBlocks})`)
  if (!(targetLogs > 0)) throw new RangeError(`targetLogs must be positive, got ${targetLogs}`)

  const clamp = (span: number, upper = maxBlocks) => Math.min(upper, maxBlocks, Math.max(minBlocks, Math.floor(span)))

  let current = clamp(options.initialBlocks)
  /** The span known to work after a refusal; growth stops there until enough successes. */
  let ceiling = maxBlocks
  let successesSinceRefusal = 0

  return {
    size: () => current,

    succeeded(span, logCount) {
      if (ceiling < maxBlocks && ++successesSinceRefusal >= probeAfter) ceiling = maxBlocks
      if (logCount > targetLogs * shrinkAbove) {
        // Far more logs than wanted: scale down to where the target would have been.
        current = clamp((span * targetLogs) / logCount)
      } else if (logCount <= targetLogs) {
        const factor = logCount === 0 ? maxGrowth : Math.min(maxGrowth, targetLogs / logCount)
        current = clamp(span * factor, ceiling)
      } else {
        // Near the target: keep the span that produced it.
        current = clamp(span, Math.max(ceiling, minBlocks))
      }
    },

    tooLarge(span, suggestedSpan) {
      const proposal = suggestedSpan !== undefined && suggestedSpan > 0 && suggestedSpan < span ? suggestedSpan : span / 2
      current = Math.min(current, clamp(proposal))
      ceiling = Math.max(minBlocks, Math.min(ceiling, current))
      successesSinceRefusal = 0
    },
  }
}

/**
 * Splits the inclusive block range [from, to] into two halves, [from, mid] and [mid + 1, to].
 * A single block cannot be split: it comes back alone.
 */
export function splitRange(from: bigint, to: bigint): [bigint, bigint][] {
  if (from > to) throw new RangeError(`empty range: from ${from} is after to ${to}`)
  if (from === to) return [[from, to]]
  const mid = from + (to - from) / 2n
  return [
    [from, mid],
    [mid + 1n, to],
  ]
}
