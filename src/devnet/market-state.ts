import type { Address } from 'viem'
import type { SimWallet } from './wallets.js'

/** Categories the original clients use; the simulator publishes every one of them. */
export const productCategories = [
  'promptset',
  'knowledge:text',
  'knowledge:html',
  'knowledge:pdf',
  'knowledge:csv',
  'knowledge:url',
  'tool:rpc',
  'tool:js',
  'tool:py',
  'tool:rs',
  'mcp',
] as const

export interface SimCreator {
  wallet: SimWallet
  tokenId: bigint
  /** tUSDT credited to the identity token and not withdrawn. */
  funds: bigint
}

export interface SimProduct {
  address: Address
  creator: SimCreator
  category: string
  price: bigint
}

export interface SimOrganization {
  address: Address
  name: string
  owner: SimWallet
  /** tUSDT held by the organization contract. */
  balance: bigint
  /** Enabled products, in the order they were enabled. */
  enabled: Address[]
}

/**
 * What the simulator knows of the market, kept from its own actions (so that decisions depend
 * on the seed alone) and rebuilt from the chain when it resumes on a persisted chain.
 */
export interface MarketState {
  creators: SimCreator[]
  products: SimProduct[]
  organizations: SimOrganization[]
  /** Organization owners' wallets by derivation index; their tUSDT held in `ownerBalances`. */
  owners: SimWallet[]
  ownerBalances: Map<Address, bigint>
  batches: number
  /** Organizations and products on chain, ours or not: numbering new names by them keeps names unique. */
  organizationsOnChain: number
  productsOnChain: number
}

export function emptyMarketState(): MarketState {
  return { creators: [], products: [], organizations: [], owners: [], ownerBalances: new Map(), batches: 0, organizationsOnChain: 0, productsOnChain: 0 }
}
