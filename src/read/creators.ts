/** Creators: the list, one creator, their products and their revenue over time. */
import type { ReadContext } from './context.js'
import { decodeCursor, toPage, type Page } from './cursor.js'
import { NotFoundError } from './errors.js'
import type { CreatorListQuery, PageQuery, SeriesQuery } from './params.js'
import { listProducts } from './products.js'
import { readSeries } from './series.js'
import { toCreatorView, type CreatorView, type ProductView, type SeriesPoint } from './views.js'

/** By revenue or calls (highest first, ties by token id) or newest first. */
export async function listCreators(ctx: ReadContext, query: CreatorListQuery): Promise<Page<CreatorView>> {
  const ordering = `creators:${query.sort}`
  let select = ctx.db.selectFrom('chain.creators').selectAll().where('chain_id', '=', ctx.chainId)
  if (query.sort === 'newest') {
    const after = decodeCursor(query.cursor, ordering, ['bigint-text'])
    if (after) select = select.where('token_id', '<', after[0])
    const rows = await select.orderBy('token_id', 'desc').limit(query.limit + 1).execute()
    return toPage(rows, query.limit, ordering, (r) => [r.token_id], toCreatorView)
  }
  const metric = query.sort
  const after = decodeCursor(query.cursor, ordering, ['decimal', 'bigint-text'])
  if (after) {
    const [value, tokenId] = after
    select = select.where((eb) => eb.or([eb(metric, '<', value), eb.and([eb(metric, '=', value), eb('token_id', '>', tokenId)])]))
  }
  const rows = await select.orderBy(metric, 'desc').orderBy('token_id').limit(query.limit + 1).execute()
  return toPage(rows, query.limit, ordering, (r) => [r[metric], r.token_id], toCreatorView)
}

async function findCreator(ctx: ReadContext, address: string) {
  const row = await ctx.db.selectFrom('chain.creators').selectAll().where('chain_id', '=', ctx.chainId).where('address', '=', address).executeTakeFirst()
  if (!row) throw new NotFoundError(`no creator identity is indexed for ${address}`)
  return row
}

export async function getCreator(ctx: ReadContext, address: string): Promise<CreatorView> {
  return toCreatorView(await findCreator(ctx, address))
}

export async function listCreatorProducts(ctx: ReadContext, address: string, query: PageQuery): Promise<Page<ProductView>> {
  await findCreator(ctx, address)
  return listProducts(ctx, { ...query, creator: address, sort: 'newest' })
}

/** The creator's earnings (charges paid to them) and calls, per day, week or month. */
export async function getCreatorRevenue(ctx: ReadContext, address: string, query: SeriesQuery): Promise<SeriesPoint[]> {
  const series = await readSeries(ctx, {
    table: 'chain.creator_revenue_daily', keyColumn: 'creator_id', amountColumn: 'revenue', owner: { table: 'chain.creators', keyColumn: 'token_id', address },
  }, query)
  if (!series) throw new NotFoundError(`no creator identity is indexed for ${address}`)
  return series
}
