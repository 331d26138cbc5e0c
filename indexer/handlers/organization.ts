/** HaitheOrganization (a factory child): product enablement and ownership. */
import type { BatchChanges } from '../aggregates/changes.js'
import { topicAddress, type PlacedLog } from './log.js'
import { topics } from './topics.js'

export function applyOrganizationLog(log: PlacedLog, organization: string, changes: BatchChanges): boolean {
  const t = log.raw.topics
  switch (t[0]) {
    case topics.productEnabled:
    case topics.productDisabled: {
      const product = topicAddress(t[1])
      const enabled = t[0] === topics.productEnabled
      const step = enabled ? 1n : -1n
      changes.enablements.set(`${organization}|${product}`, { organization, product, enabled, block: log.block })
      changes.organizations.add(organization, 'enabled', step)
      changes.products.add(product, 'enabled', step)
      changes.touch('product_enablements', 'organizations', 'products')
      return true
    }
    case topics.ownershipTransferred:
      // The constructor's (0x0 → owner) comes just before OrganizationCreated, which carries the
      // same owner; later transfers change it. The last one in the batch wins.
      changes.owners.set(organization, topicAddress(t[2]))
      changes.touch('organizations')
      return true
    default:
      return false
  }
}
