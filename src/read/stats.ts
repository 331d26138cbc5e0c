/** Market totals for the home page of an explorer. */
import type { ReadContext } from './context.js'
import { nowOf } from './context.js'
import type { MarketStatsView } from './views.js'


const DAY_MS = 86_400_000

export async function getMarketStats(ctx: ReadContext): Promise<MarketStatsView> {
  const since = new Date(nowOf(ctx).getTime() - DAY_MS)
  const [totals, recent] = await Promise.all([
    ctx.db.selectFrom('chain.market_totals').selectAll().where('chain_id', '=', ctx.chainId).executeTakeFirst(),
    // The BRIN index on block_time narrows this to the last day's pages.
    ctx.db.selectFrom('chain.payments')
      .select((eb) => [eb.fn.coalesce(eb.fn.sum<string>('amount'), eb.val('0')).as('volume'), eb.fn.coalesce(eb.fn.sum<string>('calls').filterWhere('kind', '=', 'model_fee'), eb.val('0')).as('calls')])
      .where('chain_id', '=', ctx.chainId).where('kind', 'in', ['charge', 'model_fee']).where('block_time', '>=', since)
      .executeTakeFirstOrThrow(),
  ])
  return {
    organizations: totals?.organizations ?? '0',
    creators: totals?.creators ?? '0',
    products: totals?.products ?? '0',
    calls: totals?.calls ?? '0',
    volume: totals?.volume ?? '0',
    volume_24h: String(recent.volume),
    calls_24h: String(recent.calls),
  }
}
