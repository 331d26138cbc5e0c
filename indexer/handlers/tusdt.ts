/** tUSDT: every transfer, wallet balances, and organizations' balances and deposits. */
import type { BatchChanges } from '../aggregates/changes.js'
import type { KnownContracts } from './known-contracts.js'
import { dataWord, topicAddress, ZERO_ADDRESS, type PlacedLog } from './log.js'
import { topics } from './topics.js'

export function applyTusdtLog(log: PlacedLog, changes: BatchChanges, known: KnownContracts): boolean {
  const t = log.raw.topics
  // ERC-20 Transfer has three topics; anything else from the token (Approval, ownership) is not ours.
  if (t[0] !== topics.transfer || t.length !== 3) return false
  const from = topicAddress(t[1])
  const to = topicAddress(t[2])
  const amount = dataWord(log.raw.data, 0)
  // An organization's address is predictable: tUSDT sent there before it exists is in its balance
  // (its token_balances row) but is not a deposit.
  const isOrganization = (address: string) => {
    if (!known.organizations.has(address)) return false
    const created = known.createdInBatch?.get(address)
    return !created || created.block < log.block || (created.block === log.block && created.logIndex < log.logIndex)
  }
  changes.transfers.push({ txHash: log.txHash, logIndex: log.logIndex, block: log.block, time: log.time, from, to, amount })
  if (from !== ZERO_ADDRESS) changes.balances.add(from, 'balance', -amount)
  if (to !== ZERO_ADDRESS) changes.balances.add(to, 'balance', amount)
  changes.touch('token_transfers', 'token_balances')
  if (known.organizations.has(from) || known.organizations.has(to)) changes.touch('organizations')
  if (isOrganization(to)) {
    changes.organizations.add(to, 'deposited', amount)
    changes.payments.push({
      txHash: log.txHash, logIndex: log.logIndex, block: log.block, time: log.time, kind: 'deposit', organization: to,
      creatorId: null, product: null, amount, calls: null, batchId: null, account: from,
    })
    changes.touch('organizations', 'payments')
  }
  return true
}
