/** The index's creators and products, with the products' marketplace details (application state). */
import type { Address } from 'viem'
import { z } from 'zod'
import type { WriteContext } from '../context.js'
import { creatorView, productView, type CreatorView, type ProductView } from './views.js'

type Reader = Pick<WriteContext, 'db' | 'chain'>

/** `limit` and `offset` of a list (v1 answered whole lists; large ones are paged). */
export const page = {
  limit: z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be 1 to 1000').max(1000, 'must be 1 to 1000').default(500),
  offset: z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(0, 'must be 0 or more').max(Number.MAX_SAFE_INTEGER).default(0),
}

export interface Page<T> {
  items: T[]
  /** The offset of the next page, or null on the last. */
  nextOffset: number | null
}

function paged<T>(rows: T[], limit: number, offset: number): Page<T> {
  return rows.length > limit ? { items: rows.slice(0, limit), nextOffset: offset + limit } : { items: rows, nextOffset: null }
}

export async function findCreator(w: Reader, address: Address): Promise<CreatorView | undefined> {
  const row = await w.db.selectFrom('chain.creators').selectAll().where('chain_id', '=', w.chain.chainId).where('address', '=', address).executeTakeFirst()
  return row && creatorView(row)
}

export async function listCreators(w: Reader, limit: number, offset: number): Promise<Page<CreatorView>> {
  const rows = await w.db
    .selectFrom('chain.creators')
    .selectAll()
    .where('chain_id', '=', w.chain.chainId)
    .orderBy('token_id', 'desc')
    .limit(limit + 1)
    .offset(offset)
    .execute()
  return paged(rows.map(creatorView), limit, offset)
}

function products(w: Reader) {
  return w.db
    .selectFrom('chain.products as p')
    .leftJoin('app.product_details as d', (join) => join.onRef('d.chain_id', '=', 'p.chain_id').onRef('d.product', '=', 'p.address'))
    .selectAll('p')
    .select(['d.description', 'd.photo_url'])
    .where('p.chain_id', '=', w.chain.chainId)
}

export interface ProductFilter {
  creator?: Address
  category?: string
  /** Only these product addresses. */
  addresses?: readonly string[]
}

export async function listProducts(w: Reader, filter: ProductFilter, limit: number, offset: number): Promise<Page<ProductView>> {
  let query = products(w)
  if (filter.creator) query = query.where('p.creator', '=', filter.creator)
  if (filter.category) query = query.where('p.category', '=', filter.category)
  if (filter.addresses) {
    if (filter.addresses.length === 0) return { items: [], nextOffset: null }
    query = query.where('p.address', 'in', filter.addresses)
  }
  const rows = await query.orderBy('p.index', 'desc').limit(limit + 1).offset(offset).execute()
  return paged(rows.map(productView), limit, offset)
}

/** The product with v1's integer id (orchestrator index + 1). */
export async function findProduct(w: Reader, id: number): Promise<ProductView | undefined> {
  const row = await products(w).where('p.index', '=', String(id - 1)).executeTakeFirst()
  return row && productView(row)
}
