/** HaitheCreatorIdentity: creators withdrawing their earnings (mints are seen as CreatorRegistered). */
import type { BatchChanges } from '../aggregates/changes.js'
import { dataWord, topicAddress, topicDecimal, type PlacedLog } from './log.js'
import { topics } from './topics.js'

export function applyCreatorIdentityLog(log: PlacedLog, changes: BatchChanges): boolean {
  const t = log.raw.topics
  if (t[0] !== topics.fundsWithdrawn) return false
  const creatorId = topicDecimal(t[1])
  const amount = dataWord(log.raw.data, 0)
  changes.payments.push({
    txHash: log.txHash, logIndex: log.logIndex, block: log.block, time: log.time, kind: 'withdrawal', organization: null,
    creatorId, product: null, amount, calls: null, batchId: null, account: topicAddress(t[2]),
  })
  changes.creators.add(creatorId, 'withdrawn', amount)
  changes.creators.add(creatorId, 'claimable', -amount)
  changes.touch('payments', 'creators')
  return true
}
