/**
 * A seeded pseudo-random generator (sfc32, seeded through splitmix32), so that the same seed
 * gives the same market activity. Not for anything secret.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number
  /** Integer in [min, max], both included. */
  int(min: number, max: number): number
  pick<T>(items: readonly T[]): T
  /** Index chosen with probability proportional to its weight; -1 when all weights are 0. */
  weighted(weights: readonly number[]): number
  chance(probability: number): boolean
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }
}

export function createRandom(seed: number): Random {
  const init = splitmix32(seed)
  let a = init(), b = init(), c = init(), d = init()
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = ((c << 21) | (c >>> 11)) >>> 0
    c = (c + t) >>> 0
    return t / 4294967296
  }
  const random: Random = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => {
      if (items.length === 0) throw new RangeError('pick from an empty list')
      return items[Math.floor(next() * items.length)]!
    },
    weighted: (weights) => {
      const total = weights.reduce((sum, w) => sum + w, 0)
      if (total <= 0) return -1
      let r = next() * total
      for (let i = 0; i < weights.length; i++) {
        r -= weights[i]!
        if (r < 0 && weights[i]! > 0) return i
      }
      return weights.findLastIndex((w) => w > 0)
    },
    chance: (p) => next() < p,
  }
  return random
}
