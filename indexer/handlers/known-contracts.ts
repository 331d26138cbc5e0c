/**
 * The contracts whose events the indexer applies: three fixed ones from the configuration and
 * the factory children (organizations, products) found from the orchestrator's events. The
 * children sets are loaded from the database at start and grow as creations are applied, so
 * children created inside the range being fetched are known before their own logs are read.
 */
export interface KnownContracts {
  orchestrator: string
  creatorIdentity: string
  tusdt: string
  organizations: Set<string>
  products: Set<string>
  /** Where the organizations created in the batch being applied were created. */
  createdInBatch?: Map<string, { block: number; logIndex: number }>
}

export function isChild(known: KnownContracts, address: string): boolean {
  return known.organizations.has(address) || known.products.has(address)
}
