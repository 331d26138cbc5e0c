/** Market totals for the home page of an explorer. */
import type { ReadContext } from './context.js'
import { nowOf } from './context.js'
import { windowStart } from './leaderboards.js'
import type { MarketStatsView } from './views.js'


export async function getMarketStats(ctx: ReadContext): Promise<MarketStatsView> {
  const since = windowStart('24h', nowOf(ctx))
  const [totals, recent] = await Promise.all([
    ctx.db.selectFrom('chain.market_totals').selectAll().where('chain_id', '=', ctx.chainId).executeTakeFirst(),
    ctx.db.selectFrom('chain.market_hourly')
      .select((eb) => [eb.fn.coalesce(eb.fn.sum<string>('volume'), eb.val('0')).as('volume'), eb.fn.coalesce(eb.fn.sum<string>('calls'), eb.val('0')).as('calls')])
      .where('chain_id', '=', ctx.chainId).where('hour', '>=', since)
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
