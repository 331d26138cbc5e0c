/**
 * Revenue and call leaderboards of creators and products. `all` reads the running totals;
 * the windows read the aggregates: `24h` the hourly buckets (the current hour and the 23
 * before it), `7d` and `30d` the daily ones (today, UTC, and the 6 or 29 days before). Only
 * creators and products charged at least once (in the window) are ranked.
 */
import { sql } from 'kysely'
import type { ReadContext } from './context.js'
import { nowOf } from './context.js'
import type { LeaderboardQuery, LeaderboardWindow } from './params.js'
import type { LeaderboardEntry } from './views.js'

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

/** The first bucket inside `window` at `now`: an hour (for 24h) or a day. */
export function windowStart(window: Exclude<LeaderboardWindow, 'all'>, now: Date): Date {
  if (window === '24h') return new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS - 23 * HOUR_MS)
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS
  return new Date(today - (window === '7d' ? 6 : 29) * DAY_MS)
}

const ranked = (rows: { address: string; label: string; revenue: string; calls: string }[]): LeaderboardEntry[] =>
  rows.map((row, i) => ({ rank: i + 1, address: row.address, label: row.label, revenue: row.revenue, calls: row.calls }))

/** Totals per key over the window's buckets: the hourly table for 24h, the daily one otherwise. */
function windowTotals(ctx: ReadContext, entity: 'creator' | 'product', query: LeaderboardQuery & { window: Exclude<LeaderboardWindow, 'all'> }) {
  const start = windowStart(query.window, nowOf(ctx))
  const hourly = query.window === '24h'
  const table = entity === 'creator'
    ? (hourly ? 'chain.creator_revenue_hourly' : 'chain.creator_revenue_daily')
    : (hourly ? 'chain.product_stats_hourly' : 'chain.product_stats_daily')
  const key = sql.ref(entity === 'creator' ? 'creator_id' : 'product')
  const bucket = hourly ? sql`hour >= ${start}` : sql`day >= ${start.toISOString().slice(0, 10)}::date`
  return sql<{ key: string; revenue: string; calls: string }>`(
    select ${key} as key, sum(revenue)::text as revenue, sum(calls)::text as calls
    from ${sql.table(table)} where chain_id = ${ctx.chainId} and ${bucket}
    group by ${key} order by sum(${sql.ref(query.metric)}) desc, ${key} limit ${query.limit})`.as('w')
}

export async function creatorLeaderboard(ctx: ReadContext, query: LeaderboardQuery): Promise<LeaderboardEntry[]> {
  const { metric, window, limit } = query
  if (window === 'all') {
    const rows = await ctx.db.selectFrom('chain.creators').select(['address', 'token_id as label', 'revenue', 'calls'])
      .where('chain_id', '=', ctx.chainId).where('calls', '>', '0').orderBy(metric, 'desc').orderBy('token_id').limit(limit).execute()
    return ranked(rows)
  }
  const rows = await ctx.db.selectFrom(windowTotals(ctx, 'creator', { ...query, window }))
    .innerJoin('chain.creators as c', (join) => join.on('c.chain_id', '=', ctx.chainId).on('c.token_id', '=', sql.ref('w.key')))
    .select(['c.address', 'c.token_id as label', 'w.revenue', 'w.calls'])
    .orderBy(sql`w.${sql.ref(metric)}::numeric`, 'desc').orderBy('c.token_id')
    .execute()
  return ranked(rows)
}

export async function productLeaderboard(ctx: ReadContext, query: LeaderboardQuery): Promise<LeaderboardEntry[]> {
  const { metric, window, limit } = query
  if (window === 'all') {
    const rows = await ctx.db.selectFrom('chain.products').select(['address', 'name as label', 'revenue', 'calls'])
      .where('chain_id', '=', ctx.chainId).where('calls', '>', '0').orderBy(metric, 'desc').orderBy('address').limit(limit).execute()
    return ranked(rows)
  }
  const rows = await ctx.db.selectFrom(windowTotals(ctx, 'product', { ...query, window }))
    .innerJoin('chain.products as p', (join) => join.on('p.chain_id', '=', ctx.chainId).on('p.address', '=', sql.ref('w.key')))
    .select(['p.address', 'p.name as label', 'w.revenue', 'w.calls'])
    .orderBy(sql`w.${sql.ref(metric)}::numeric`, 'desc').orderBy('p.address')
    .execute()
  return ranked(rows)
}
