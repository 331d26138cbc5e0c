/** HaitheProduct (a factory child): repricing. */
import type { BatchChanges } from '../aggregates/changes.js'
import { dataWord, type PlacedLog } from './log.js'
import { topics } from './topics.js'

export function applyProductLog(log: PlacedLog, product: string, changes: BatchChanges): boolean {
  if (log.raw.topics[0] !== topics.productPriceUpdated) return false
  changes.prices.set(product, dataWord(log.raw.data, 1))
  changes.touch('products')
  return true
}
