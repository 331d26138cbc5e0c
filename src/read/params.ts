/**
 * The read API's parameters as zod schemas: REST validates query strings and paths with them,
 * gRPC validates its request messages with them, and the OpenAPI document is generated from
 * them. Each schema's error message says what is expected, and the caller's error names the
 * parameter (see parseParams).
 */
import { z } from 'zod'
import { InvalidArgumentError } from './errors.js'

export const MAX_LIMIT = 100
export const DEFAULT_LIMIT = 20

export const addressParam = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address')
  .transform((a) => a.toLowerCase())
  .meta({ example: '0x5fbdb2315678afecb367f032d93f642f64180aa3' })

export const txHashParam = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, 'must be a 0x-prefixed 32-byte hex transaction hash')
  .transform((h) => h.toLowerCase())

/** Query-string integers arrive as text; gRPC gives numbers. Both are accepted, strictly. */
const wholeNumber = (what: string, max = Number.MAX_SAFE_INTEGER) =>
  z
    .union([z.number(), z.string().regex(/^\d+$/, `must be a whole number (${what})`)])
    .transform((v) => Number(v))
    .pipe(z.number().int(`must be a whole number (${what})`).min(0, `must not be negative (${what})`).max(max, `must be at most ${max}`))

const limitWithDefault = (fallback: number) =>
  wholeNumber(`1 to ${MAX_LIMIT}`)
    .pipe(z.number().min(1, 'must be at least 1').max(MAX_LIMIT, `must be at most ${MAX_LIMIT}`))
    .default(fallback)
    .meta({ description: `How many, 1 to ${MAX_LIMIT} (default ${fallback}).` })
export const limitParam = limitWithDefault(DEFAULT_LIMIT)

export const cursorParam = z
  .string()
  .max(512, 'is too long to be a cursor from this API')
  .optional()
  .meta({ description: 'Opaque cursor from the previous page\'s `next_cursor`.' })

export const blockParam = wholeNumber('a block number')

const DATE_OR_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/

/** The instant `text` names (a time without a zone is UTC), or undefined, also for days that do not exist (2023-02-29). */
function parseInstant(text: string): Date | undefined {
  const match = DATE_OR_TIMESTAMP.exec(text)
  if (!match) return undefined
  const [, year, month, day, time, zone] = match
  const midnight = new Date(Date.UTC(2000, Number(month) - 1, Number(day)))
  midnight.setUTCFullYear(Number(year))
  if (midnight.getUTCMonth() !== Number(month) - 1 || midnight.getUTCDate() !== Number(day)) return undefined
  if (time === undefined) return midnight
  const instant = new Date(`${year}-${month}-${day}T${time}${zone ?? 'Z'}`)
  return Number.isNaN(instant.getTime()) ? undefined : instant
}

/** A calendar day `YYYY-MM-DD` or an ISO 8601 timestamp (UTC unless it names its offset), kept as a Date. */
export const dateParam = z
  .string()
  .refine((s) => parseInstant(s) !== undefined, { message: 'must be a date YYYY-MM-DD or an ISO 8601 timestamp' })
  .transform((s) => parseInstant(s)!)

/** Free text that reaches SQL: PostgreSQL text cannot hold NUL. */
const text = (max: number) =>
  z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`).refine((s) => !s.includes('\u0000'), 'must not contain NUL characters')

export const granularityParam = z
  .enum(['day', 'week', 'month'], { error: 'must be day, week or month' })
  .default('day')
export type Granularity = z.infer<typeof granularityParam>

export const windowParam = z.enum(['24h', '7d', '30d', 'all'], { error: 'must be 24h, 7d, 30d or all' }).default('all')
export type LeaderboardWindow = z.infer<typeof windowParam>

export const metricParam = z.enum(['revenue', 'calls'], { error: 'must be revenue or calls' }).default('revenue')
export type LeaderboardMetric = z.infer<typeof metricParam>

export const productSortParam = z.enum(['revenue', 'calls', 'price', 'newest'], { error: 'must be revenue, calls, price or newest' }).default('revenue')
export type ProductSort = z.infer<typeof productSortParam>

export const creatorSortParam = z.enum(['revenue', 'calls', 'newest'], { error: 'must be revenue, calls or newest' }).default('revenue')
export type CreatorSort = z.infer<typeof creatorSortParam>

export const paymentKinds = ['charge', 'model_fee', 'settlement', 'withdrawal', 'deposit'] as const
export const paymentKindParam = z.enum(paymentKinds, { error: `must be one of ${paymentKinds.join(', ')}` })

/** Kinds of the live event feed: the payment kinds plus tUSDT transfers. */
export const eventKinds = [...paymentKinds, 'transfer'] as const
export type EventKind = (typeof eventKinds)[number]

const pageShape = { limit: limitParam, cursor: cursorParam }
const seriesShape = {
  granularity: granularityParam,
  from: dateParam.optional().meta({ description: 'First day (inclusive); default: 30 days, 26 weeks or 12 months before `to`.' }),
  to: dateParam.optional().meta({ description: 'Last day (inclusive); default: today (UTC).' }),
}

export const pageQuery = z.strictObject(pageShape)
export const seriesQuery = z.strictObject(seriesShape)
export const organizationListQuery = z.strictObject({ ...pageShape, owner: addressParam.optional() })
export const creatorListQuery = z.strictObject({ ...pageShape, sort: creatorSortParam })
export const productListQuery = z.strictObject({
  ...pageShape,
  category: text(100).optional(),
  creator: addressParam.optional(),
  q: text(100).optional().meta({ description: 'Case-insensitive substring of the product name.' }),
  sort: productSortParam,
})
export const leaderboardQuery = z.strictObject({
  metric: metricParam,
  window: windowParam,
  limit: limitWithDefault(10),
})
export const paymentListQuery = z.strictObject({
  ...pageShape,
  organization: addressParam.optional(),
  creator: addressParam.optional(),
  product: addressParam.optional(),
  kind: paymentKindParam.optional(),
  from_block: blockParam.optional(),
  to_block: blockParam.optional(),
})
export const organizationPaymentsQuery = z.strictObject({ ...pageShape, kind: paymentKindParam.optional() })
export const addressPath = z.strictObject({ address: addressParam })
export const txHashPath = z.strictObject({ hash: txHashParam })

export type PageQuery = z.output<typeof pageQuery>
export type SeriesQuery = z.output<typeof seriesQuery>
export type OrganizationListQuery = z.output<typeof organizationListQuery>
export type CreatorListQuery = z.output<typeof creatorListQuery>
export type ProductListQuery = z.output<typeof productListQuery>
export type LeaderboardQuery = z.output<typeof leaderboardQuery>
export type PaymentListQuery = z.output<typeof paymentListQuery>

/**
 * Validates `input` against `schema`; throws InvalidArgumentError naming the first bad
 * parameter (or the unknown one) with what it must be.
 */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  if (issue.code === 'unrecognized_keys') {
    throw new InvalidArgumentError(issue.keys[0] ?? 'parameter', 'is not a parameter of this request')
  }
  const parameter = issue.path.length > 0 ? issue.path.join('.') : 'request'
  const message = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message
  throw new InvalidArgumentError(parameter, message)
}

/** A live feed subscription (WebSocket `subscribe` message; gRPC StreamEventsRequest). */
export const eventSubscription = z.strictObject({
  kinds: z.array(z.enum(eventKinds, { error: `must be one of ${eventKinds.join(', ')}` })).max(eventKinds.length).optional(),
  addresses: z.array(addressParam).max(100, 'at most 100 addresses').optional(),
  from_block: blockParam.optional().meta({ description: 'Replay from this block, then go live; default: live only.' }),
})
export type EventSubscription = z.output<typeof eventSubscription>
