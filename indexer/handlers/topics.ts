/** topic0 of every event the indexer reads, computed from the contracts' ABIs. */
import { toEventSelector, type AbiEvent } from 'viem'
import { haitheCreatorIdentityAbi, haitheOrchestratorAbi, haitheOrganizationAbi, haitheProductAbi, testUSDTAbi } from '../../src/chain/index.js'

function selector(abi: readonly unknown[], name: string): string {
  const event = (abi as readonly AbiEvent[]).find((item) => item.type === 'event' && item.name === name)
  if (!event) throw new Error(`event ${name} not in ABI`)
  return toEventSelector(event)
}

export const topics = {
  organizationCreated: selector(haitheOrchestratorAbi, 'OrganizationCreated'),
  productCreated: selector(haitheOrchestratorAbi, 'ProductCreated'),
  creatorRegistered: selector(haitheOrchestratorAbi, 'CreatorRegistered'),
  organizationExpenditure: selector(haitheOrchestratorAbi, 'OrganizationExpenditure'),
  creatorPaid: selector(haitheOrchestratorAbi, 'CreatorPaid'),
  modelFeePaid: selector(haitheOrchestratorAbi, 'ModelFeePaid'),
  usageSettled: selector(haitheOrchestratorAbi, 'UsageSettled'),
  productEnabled: selector(haitheOrganizationAbi, 'ProductEnabled'),
  productDisabled: selector(haitheOrganizationAbi, 'ProductDisabled'),
  ownershipTransferred: selector(haitheOrganizationAbi, 'OwnershipTransferred'),
  productPriceUpdated: selector(haitheProductAbi, 'ProductPriceUpdated'),
  fundsWithdrawn: selector(haitheCreatorIdentityAbi, 'FundsWithdrawn'),
  transfer: selector(testUSDTAbi, 'Transfer'),
} as const

/** Events emitted by factory children (organizations, products): fetched by topic, any address. */
export const childTopics = [topics.productEnabled, topics.productDisabled, topics.ownershipTransferred, topics.productPriceUpdated]
