/** HaitheOrchestrator: creations (organizations, products, creators) and every charge. */
import type { BatchChanges } from '../aggregates/changes.js'
import type { KnownContracts } from './known-contracts.js'
import { checkedTopic, dataString, dataWord, topicAddress, topicDecimal, topicWord, ZERO_ADDRESS, type PlacedLog } from './log.js'
import { topics } from './topics.js'

/** Adds the children this log creates to the known sets (run over a range before applying it). */
export function discoverChild(log: PlacedLog, known: KnownContracts): void {
  const topic0 = log.raw.topics[0]
  if (topic0 === topics.organizationCreated) {
    const organization = topicAddress(log.raw.topics[1])
    known.organizations.add(organization)
    known.createdInBatch?.set(organization, { block: log.block, logIndex: log.logIndex })
  } else if (topic0 === topics.productCreated) known.products.add(topicAddress(log.raw.topics[1]))
}

export function applyOrchestratorLog(log: PlacedLog, changes: BatchChanges): boolean {
  const { topics: t, data } = log.raw
  const { day, hour } = changes.bucketsOf(log.time)
  switch (t[0]) {
    case topics.organizationCreated: {
      const name = dataString(data, 0)
      const index = dataWord(data, 1)
      changes.newOrganizations.push({ address: topicAddress(t[1]), owner: topicAddress(t[2]), name, index, block: log.block, tx: log.txHash, time: log.time })
      changes.totals.add('', 'organizations', 1n)
      changes.touch('organizations', 'market_totals')
      return true
    }
    case topics.productCreated: {
      const [name, category, uri] = [dataString(data, 0), dataString(data, 1), dataString(data, 2)]
      const [price, index] = [dataWord(data, 3), dataWord(data, 4)]
      changes.newProducts.push({
        address: topicAddress(t[1]), creator: topicAddress(t[2]), creatorId: topicWord(t[3]),
        name, category, uri, price, index, block: log.block, tx: log.txHash, time: log.time,
      })
      changes.totals.add('', 'products', 1n)
      changes.touch('products', 'market_totals')
      return true
    }
    case topics.creatorRegistered: {
      const uri = dataString(data, 0)
      changes.newCreators.push({ address: topicAddress(t[1]), tokenId: topicWord(t[2]), uri, block: log.block, tx: log.txHash, time: log.time })
      changes.totals.add('', 'creators', 1n)
      changes.touch('creators', 'market_totals')
      return true
    }
    case topics.organizationExpenditure: {
      const organization = topicAddress(t[1])
      const amount = dataWord(data, 0)
      changes.organizations.add(organization, 'spent', amount)
      changes.orgDaily.in(day).add(organization, 'spent', amount)
      changes.touch('organizations', 'org_spend_daily')
      return true
    }
    case topics.creatorPaid: {
      const organization = topicAddress(t[1])
      const creatorId = topicDecimal(t[2])
      const product = topicAddress(t[3])
      const amount = dataWord(data, 0)
      const calls = dataWord(data, 1)
      const isProduct = product !== ZERO_ADDRESS
      changes.payments.push({
        txHash: log.txHash, logIndex: log.logIndex, block: log.block, time: log.time, kind: 'charge', organization,
        creatorId, product: isProduct ? product : null, amount, calls, batchId: null, account: null,
      })
      const creator = changes.creators.at(creatorId)
      creator.revenue += amount
      creator.claimable += amount
      creator.calls += calls
      changes.creatorDaily.in(day).addBoth(creatorId, 'revenue', amount, 'calls', calls)
      changes.creatorHourly.in(hour).addBoth(creatorId, 'revenue', amount, 'calls', calls)
      if (isProduct) {
        changes.products.addBoth(product, 'revenue', amount, 'calls', calls)
        changes.productDaily.in(day).addBoth(product, 'revenue', amount, 'calls', calls)
        changes.productHourly.in(hour).addBoth(product, 'revenue', amount, 'calls', calls)
        changes.touch('products', 'product_stats_daily', 'product_stats_hourly')
      }
      changes.marketDaily.add(day, 'volume', amount)
      changes.marketHourly.add(hour, 'volume', amount)
      changes.totals.add('', 'volume', amount)
      changes.touch('payments', 'creators', 'creator_revenue_daily', 'creator_revenue_hourly', 'market_daily', 'market_hourly', 'market_totals')
      return true
    }
    case topics.modelFeePaid: {
      const organization = topicAddress(t[1])
      const amount = dataWord(data, 0)
      const calls = dataWord(data, 1)
      changes.payments.push({
        txHash: log.txHash, logIndex: log.logIndex, block: log.block, time: log.time, kind: 'model_fee', organization,
        creatorId: null, product: null, amount, calls, batchId: null, account: null,
      })
      changes.organizations.add(organization, 'calls', calls)
      changes.orgDaily.in(day).add(organization, 'calls', calls)
      changes.marketDaily.addBoth(day, 'volume', amount, 'calls', calls)
      changes.marketHourly.addBoth(hour, 'volume', amount, 'calls', calls)
      changes.totals.add('', 'volume', amount)
      changes.totals.add('', 'calls', calls)
      changes.touch('payments', 'organizations', 'org_spend_daily', 'market_daily', 'market_hourly', 'market_totals')
      return true
    }
    case topics.usageSettled: {
      changes.payments.push({
        txHash: log.txHash, logIndex: log.logIndex, block: log.block, time: log.time, kind: 'settlement',
        organization: topicAddress(t[1]), creatorId: null, product: null, amount: dataWord(data, 0), calls: null,
        batchId: checkedTopic(t[2]).toLowerCase(), account: null,
      })
      changes.touch('payments')
      return true
    }
    default:
      return false
  }
}
