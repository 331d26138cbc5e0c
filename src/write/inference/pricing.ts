/**
 * The price of a call (v1's rule): the model's price per call plus the price of every product
 * the call uses, which is the organization's on-chain enabled products ∩ the project's
 * (app.project_products), at chain.products.price. Products do not shape the prompt yet.
 */
import type { Address } from 'viem'
import type { WriteContext } from '../context.js'

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

export async function isEnrolled(w: Pick<WriteContext, 'db' | 'chain'>, organization: Address, modelId: number): Promise<boolean> {
  const row = await w.db
    .selectFrom('app.org_model_enrollments')
    .select('model_id')
    .where('chain_id', '=', w.chain.chainId)
    .where('organization', '=', organization)
    .where('model_id', '=', modelId)
    .executeTakeFirst()
  return row !== undefined
}

export interface PricedProduct {
  product: Address
  amount: bigint
}

/** The products a call of the project uses, with their prices, ordered by address. */
export async function productsOfCall(w: Pick<WriteContext, 'db' | 'chain'>, organization: Address, projectId: string): Promise<PricedProduct[]> {
  const rows = await w.db
    .selectFrom('app.project_products as pp')
    .innerJoin('chain.products as p', (j) => j.on('p.chain_id', '=', w.chain.chainId).onRef('p.address', '=', 'pp.product'))
    .innerJoin('chain.product_enablements as e', (j) =>
      j.on('e.chain_id', '=', w.chain.chainId).on('e.organization', '=', organization).onRef('e.product', '=', 'pp.product').on('e.enabled', '=', true))
    .select(['p.address', 'p.price'])
    .where('pp.project_id', '=', projectId)
    .orderBy('p.address')
    .execute()
  return rows.map((r) => ({ product: r.address as Address, amount: BigInt(r.price) }))
}
