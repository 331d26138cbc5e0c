import type { BatchChanges } from '../aggregates/changes.js'
import { applyCreatorIdentityLog } from './creator-identity.js'
import type { KnownContracts } from './known-contracts.js'
import type { PlacedLog } from './log.js'
import { applyOrchestratorLog, discoverChild } from './orchestrator.js'
import { applyOrganizationLog } from './organization.js'
import { applyProductLog } from './product.js'
import { applyTusdtLog } from './tusdt.js'

export { childTopics, topics } from './topics.js'
export { compareLogs, type PlacedLog, type RawLog } from './log.js'
export { isChild, type KnownContracts } from './known-contracts.js'

/**
 * Applies logs (in canonical order) to `changes`. Children created anywhere in `logs` are
 * discovered first: an organization's constructor event precedes its OrganizationCreated.
 */
export function applyLogs(logs: readonly PlacedLog[], changes: BatchChanges, known: KnownContracts): void {
  known.createdInBatch = new Map()
  for (const log of logs) if (log.raw.address === known.orchestrator) discoverChild(log, known)
  for (const log of logs) {
    const address = log.raw.address
    let applied = false
    if (address === known.orchestrator) applied = applyOrchestratorLog(log, changes)
    else if (address === known.tusdt) applied = applyTusdtLog(log, changes, known)
    else if (address === known.creatorIdentity) applied = applyCreatorIdentityLog(log, changes)
    else if (known.organizations.has(address)) applied = applyOrganizationLog(log, address, changes)
    else if (known.products.has(address)) applied = applyProductLog(log, address, changes)
    if (applied) changes.events += 1
  }
}
