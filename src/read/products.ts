/** Products: the filtered, sorted list, one product, and its statistics. */
import type { ReadContext } from './context.js'
import { nowOf } from './context.js'
import { windowStart } from './leaderboards.js'
import { decodeCursor, toPage, type Page } from './cursor.js'
import { NotFoundError } from './errors.js'
import type { ProductListQuery, SeriesQuery } from './params.js'
import { readSeries } from './series.js'
import { toProductView, type ProductStatsView, type ProductView } from './views.js'

/** `%`, `_` and `\` match themselves in a user's search text. */
const likePattern = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

export async function listProducts(
  ctx: ReadContext, query: Omit<ProductListQuery, 'category' | 'q'> & Partial<Pick<ProductListQuery, 'category' | 'q'>>,
): Promise<Page<ProductView>> {
  const ordering = `products:${query.sort}`
  let select = ctx.db.selectFrom('chain.products').selectAll().where('chain_id', '=', ctx.chainId)
  if (query.category) select = select.where('category', '=', query.category)
  if (query.creator) select = select.where('creator', '=', query.creator)
  if (query.q) select = select.where('name', 'ilike', likePattern(query.q))

  if (query.sort === 'newest') {
    const after = decodeCursor(query.cursor, ordering, ['number'])
    if (after) select = select.where('index', '<', String(after[0]))
    const rows = await select.orderBy('index', 'desc').limit(query.limit + 1).execute()
    return toPage(rows, query.limit, ordering, (r) => [Number(r.index)], toProductView)
  }
  const column = query.sort
  // revenue and calls: highest first; price: cheapest first. Ties by address, ascending.
  const descending = column !== 'price'
  const after = decodeCursor(query.cursor, ordering, ['decimal', 'address'])
  if (after) {
    const [value, address] = after
    select = select.where((eb) => eb.or([eb(column, descending ? '<' : '>', value), eb.and([eb(column, '=', value), eb('address', '>', address)])]))
  }
  const rows = await select.orderBy(column, descending ? 'desc' : 'asc').orderBy('address').limit(query.limit + 1).execute()
  return toPage(rows, query.limit, ordering, (r) => [r[column], r.address], toProductView)
}

export async function getProduct(ctx: ReadContext, address: string): Promise<ProductView> {
  const row = await ctx.db.selectFrom('chain.products').selectAll().where('chain_id', '=', ctx.chainId).where('address', '=', address).executeTakeFirst()
  if (!row) throw new NotFoundError(`no product at ${address} is indexed`)
  return toProductView(row)
}


/** A product with its calls and revenue in the last 24 hours and per day, week or month. */
export async function getProductStats(ctx: ReadContext, address: string, query: SeriesQuery): Promise<ProductStatsView> {
  const product = await getProduct(ctx, address)
  const [recent, series] = await Promise.all([
    ctx.db.selectFrom('chain.product_stats_hourly')
      .select((eb) => [eb.fn.coalesce(eb.fn.sum<string>('revenue'), eb.val('0')).as('revenue'), eb.fn.coalesce(eb.fn.sum<string>('calls'), eb.val('0')).as('calls')])
      .where('chain_id', '=', ctx.chainId).where('product', '=', address).where('hour', '>=', windowStart('24h', nowOf(ctx)))
      .executeTakeFirstOrThrow(),
    readSeries(ctx, { table: 'chain.product_stats_daily', keyColumn: 'product', amountColumn: 'revenue', owner: { table: 'chain.products', keyColumn: 'address', address } }, query),
  ])
  return { product, revenue_24h: String(recent.revenue), calls_24h: String(recent.calls), series: series ?? [] }
}
