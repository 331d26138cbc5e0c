/**
 * The price of a call (v1's rule): the model's price per call plus the price of every product
 * the call uses, which is the organization's on-chain enabled products ∩ the project's
 * (app.project_products), at chain.products.price. Products do not shape the prompt yet.
 */
import type { Address } from 'viem'
import type { WriteContext } from '../context.js'
import { usableProducts } from '../projects/queries.js'

export interface CatalogueModel {
  id: number
  name: string
  provider: string
  isActive: boolean
  pricePerCall: bigint
}

export async function findModelByName(w: Pick<WriteContext, 'db'>, name: string): Promise<CatalogueModel | undefined> {
  const row = await w.db
    .selectFrom('app.models')
    .select(['id', 'name', 'provider', 'is_active', 'price_per_call'])
    .where('name', '=', name)
    .executeTakeFirst()
  return row && { id: row.id, name: row.name, provider: row.provider, isActive: row.is_active, pricePerCall: BigInt(row.price_per_call) }
}

export interface PricedProduct {
  product: Address
  amount: bigint
}

/** The products a call of the project uses (the project's ∩ the organization's on-chain enablement), with their prices. */
export async function productsOfCall(w: Pick<WriteContext, 'db' | 'chain'>, organization: Address, projectId: string): Promise<PricedProduct[]> {
  const products = await usableProducts(w, projectId, organization)
  return products.map((p) => ({ product: p.address, amount: p.price }))
}
