/**
 * Time series from the daily aggregates, summed per day, ISO week (starting Monday) or month,
 * with empty buckets filled with zeros so a chart gets one point per period.
 */
import { sql } from 'kysely'
import type { ReadContext } from './context.js'
import { nowOf } from './context.js'
import { InvalidArgumentError } from './errors.js'
import type { Granularity, SeriesQuery } from './params.js'
import type { SeriesPoint } from './views.js'

export interface SeriesSource {
  table: 'chain.org_spend_daily' | 'chain.creator_revenue_daily' | 'chain.product_stats_daily'
  keyColumn: 'organization' | 'creator_id' | 'product'
  amountColumn: 'spent' | 'revenue'
  /** The entity whose series it is, found by address in the same statement (no series when it is not indexed). */
  owner: { table: 'chain.organizations' | 'chain.creators' | 'chain.products'; keyColumn: 'address' | 'token_id'; address: string }
}

const MAX_POINTS = 1_000
const DAY_MS = 86_400_000

/** The first day (UTC midnight) of the bucket holding `date`. */
export function bucketStart(date: Date, granularity: Granularity): Date {
  const day = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()))
  if (granularity === 'day') return day
  if (granularity === 'week') return new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * DAY_MS)
  return new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), 1))
}

function nextBucket(start: Date, granularity: Granularity): Date {
  if (granularity === 'day') return new Date(start.getTime() + DAY_MS)
  if (granularity === 'week') return new Date(start.getTime() + 7 * DAY_MS)
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1))
}

/** The buckets from `from` to `to` (inclusive), checked against MAX_POINTS; defaults as documented on the parameters. */
export function seriesBuckets(query: SeriesQuery, now: Date): Date[] {
  const { granularity } = query
  const to = bucketStart(query.to ?? now, 'day')
  const from = query.from
    ? bucketStart(query.from, 'day')
    : granularity === 'day' ? new Date(to.getTime() - 29 * DAY_MS)
      : granularity === 'week' ? new Date(to.getTime() - 25 * 7 * DAY_MS)
        : new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth() - 11, 1))
  if (from > to) throw new InvalidArgumentError('from', 'must not be after to')
  const buckets: Date[] = []
  for (let b = bucketStart(from, granularity); b <= to; b = nextBucket(b, granularity)) {
    buckets.push(b)
    if (buckets.length > MAX_POINTS) throw new InvalidArgumentError('from', `spans more than ${MAX_POINTS} ${granularity}s; narrow from..to or use a coarser granularity`)
  }
  return buckets
}

const day = (date: Date): string => date.toISOString().slice(0, 10)

/** The series, or undefined when the owner is not indexed: one statement either way. */
export async function readSeries(ctx: ReadContext, source: SeriesSource, query: SeriesQuery): Promise<SeriesPoint[] | undefined> {
  const buckets = seriesBuckets(query, nowOf(ctx))
  // From the day asked for (the first bucket may start before it); whole buckets by default.
  const first = query.from ? bucketStart(query.from, 'day') : buckets[0]!
  const last = bucketStart(query.to ?? nowOf(ctx), 'day')
  // A date cast to `timestamp` (no time zone) truncates the same in every session time zone.
  const { rows } = await sql<{ period: string | null; amount: string | null; calls: string | null }>`
    select to_char(date_trunc(${query.granularity}, d.day::timestamp), 'YYYY-MM-DD') as period,
           sum(d.${sql.ref(source.amountColumn)})::text as amount, sum(d.calls)::text as calls
    from ${sql.table(source.owner.table)} o
    left join ${sql.table(source.table)} d on d.chain_id = o.chain_id and d.${sql.ref(source.keyColumn)} = o.${sql.ref(source.owner.keyColumn)}
      and d.day >= ${day(first)}::date and d.day <= ${day(last)}::date
    where o.chain_id = ${ctx.chainId} and o.address = ${source.owner.address}
    group by 1`.execute(ctx.db)
  if (rows.length === 0) return undefined
  const found = new Map(rows.map((r) => [r.period, r]))
  return buckets.map((b) => {
    const row = found.get(day(b))
    return { period: day(b), amount: row?.amount ?? '0', calls: row?.calls ?? '0' }
  })
}
