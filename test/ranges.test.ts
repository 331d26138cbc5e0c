import { describe, expect, it } from 'vitest'
import { createRangeSizer, splitRange } from '../indexer/sync/ranges.js'

describe('createRangeSizer', () => {
  it('starts at the initial span, clamped to the bounds', () => {
    expect(createRangeSizer({ initialBlocks: 500, maxBlocks: 10_000, targetLogs: 1000 }).size()).toBe(500)
    expect(createRangeSizer({ initialBlocks: 50_000, maxBlocks: 10_000, targetLogs: 1000 }).size()).toBe(10_000)
    expect(createRangeSizer({ initialBlocks: 0, minBlocks: 10, maxBlocks: 100, targetLogs: 1000 }).size()).toBe(10)
    expect(() => createRangeSizer({ initialBlocks: 1, minBlocks: 10, maxBlocks: 5, targetLogs: 1 })).toThrow(RangeError)
  })

  it('grows at most twofold per success, toward the target', () => {
    const sizer = createRangeSizer({ initialBlocks: 100, maxBlocks: 100_000, targetLogs: 1000 })
    sizer.succeeded(100, 0)
    expect(sizer.size()).toBe(200)
    sizer.succeeded(200, 10) // 100x below target: still only twofold
    expect(sizer.size()).toBe(400)
    sizer.succeeded(400, 800) // 1.25x below target
    expect(sizer.size()).toBe(500)
    sizer.succeeded(500, 1000) // on target: kept
    expect(sizer.size()).toBe(500)
    sizer.succeeded(500, 1800) // above, but near: kept
    expect(sizer.size()).toBe(500)
  })

  it('never grows past maxBlocks', () => {
    const sizer = createRangeSizer({ initialBlocks: 6000, maxBlocks: 10_000, targetLogs: 1000 })
    for (let i = 0; i < 5; i++) sizer.succeeded(sizer.size(), 0)
    expect(sizer.size()).toBe(10_000)
  })

  it('shrinks to where the target would have been when far more logs came back', () => {
    const sizer = createRangeSizer({ initialBlocks: 1000, maxBlocks: 10_000, targetLogs: 1000 })
    sizer.succeeded(1000, 10_000)
    expect(sizer.size()).toBe(100)
    sizer.succeeded(100, 1_000_000)
    expect(sizer.size()).toBe(1) // never below minBlocks (1)
  })

  it('halves on a refusal, never below minBlocks', () => {
    const sizer = createRangeSizer({ initialBlocks: 1000, minBlocks: 100, maxBlocks: 10_000, targetLogs: 1000 })
    sizer.tooLarge(1000)
    expect(sizer.size()).toBe(500)
    sizer.tooLarge(500)
    sizer.tooLarge(250)
    expect(sizer.size()).toBe(125)
    sizer.tooLarge(125)
    expect(sizer.size()).toBe(100)
    sizer.tooLarge(100)
    expect(sizer.size()).toBe(100)
  })

  it("takes the provider's suggestion when it is smaller than the span", () => {
    const sizer = createRangeSizer({ initialBlocks: 10_000, maxBlocks: 10_000, targetLogs: 1000 })
    sizer.tooLarge(10_000, 2_001)
    expect(sizer.size()).toBe(2_001)
    // A suggestion no smaller than the refused span is no help: halve instead.
    sizer.tooLarge(2_001, 5_000)
    expect(sizer.size()).toBe(1_000)
  })

  it('does not undo a refusal when an older, larger request succeeds', () => {
    const sizer = createRangeSizer({ initialBlocks: 1000, maxBlocks: 10_000, targetLogs: 1000 })
    sizer.tooLarge(1000)
    expect(sizer.size()).toBe(500)
    sizer.succeeded(1000, 10) // in flight before the refusal
    expect(sizer.size()).toBe(500)
  })

  it('stops growth at the span that worked after a refusal, then probes again', () => {
    const sizer = createRangeSizer({ initialBlocks: 4000, maxBlocks: 100_000, targetLogs: 1000, probeAfterSuccesses: 4 })
    sizer.tooLarge(4000) // e.g. a provider block limit between 2000 and 4000
    expect(sizer.size()).toBe(2000)
    for (let i = 0; i < 3; i++) {
      sizer.succeeded(sizer.size(), 0)
      expect(sizer.size()).toBe(2000)
    }
    sizer.succeeded(sizer.size(), 0) // the fourth success in a row: try larger again
    expect(sizer.size()).toBe(4000)
  })
})

describe('splitRange', () => {
  it('splits an inclusive range into two halves that cover it', () => {
    expect(splitRange(0n, 9n)).toEqual([
      [0n, 4n],
      [5n, 9n],
    ])
    expect(splitRange(10n, 11n)).toEqual([
      [10n, 10n],
      [11n, 11n],
    ])
    expect(splitRange(5n, 7n)).toEqual([
      [5n, 6n],
      [7n, 7n],
    ])
  })

  it('returns a single block alone and refuses an empty range', () => {
    expect(splitRange(3n, 3n)).toEqual([[3n, 3n]])
    expect(() => splitRange(4n, 3n)).toThrow(RangeError)
  })
})
