/**
 * The model catalogue as inference reads it. The price of a call (v1's rule) is the model's
 * price per call plus the price of every product the call uses (the organization's on-chain
 * enabled products ∩ the project's, at chain.products.price): see chat/run-chat.ts.
 */
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
