import { describe, expect, it } from 'vitest'
import { createRandom } from '../src/devnet/index.js'

describe('seeded random', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const draw = (seed: number) => Array.from({ length: 20 }, ((r) => () => r.next())(createRandom(seed)))
    expect(draw(1)).toEqual(draw(1))
    expect(draw(1)).not.toEqual(draw(2))
  })

  it('draws within bounds', () => {
    const random = createRandom(5)
    for (let i = 0; i < 1000; i++) {
      const n = random.int(3, 7)
      expect(n).toBeGreaterThanOrEqual(3)
      expect(n).toBeLessThanOrEqual(7)
      const x = random.next()
      expect(x).toBeGreaterThanOrEqual(0)
      expect(x).toBeLessThan(1)
    }
  })

  it('never picks a zero weight, and follows the weights', () => {
    const random = createRandom(9)
    const counts = [0, 0, 0]
    for (let i = 0; i < 3000; i++) counts[random.weighted([0, 1, 3])]! += 1
    expect(counts[0]).toBe(0)
    expect(counts[2]! / counts[1]!).toBeGreaterThan(2)
    expect(counts[2]! / counts[1]!).toBeLessThan(4)
    expect(random.weighted([0, 0])).toBe(-1)
  })
})
