/**
 * Everything a run of blocks changes, accumulated in memory and written in one database
 * transaction: new entities, appended rows (payments, transfers) and additive deltas for
 * balances, counters and daily aggregates. Deltas commute, so a batch of thousands of events
 * becomes a handful of bulk statements.
 */
import { PaymentColumns, TransferColumns } from './columns.js'

export type ChainTable =
  | 'organizations'
  | 'creators'
  | 'products'
  | 'product_enablements'
  | 'payments'
  | 'token_transfers'
  | 'token_balances'
  | 'creator_revenue_daily'
  | 'product_stats_daily'
  | 'creator_revenue_hourly'
  | 'product_stats_hourly'
  | 'org_spend_daily'
  | 'market_daily'
  | 'market_hourly'
  | 'market_totals'

/** Additive deltas per key and field. */
export class DeltaMap<Field extends string> {
  readonly entries = new Map<string, Record<Field, bigint>>()
  constructor(private readonly fields: readonly Field[]) {}

  add(key: string, field: Field, amount: bigint): void {
    this.at(key)[field] += amount
  }

  /** Two fields of one key at once (one lookup). */
  addBoth(key: string, field: Field, amount: bigint, other: Field, otherAmount: bigint): void {
    const entry = this.at(key)
    entry[field] += amount
    entry[other] += otherAmount
  }

  /** The key's deltas, zero when new: add to its fields directly when several change. */
  at(key: string): Record<Field, bigint> {
    let entry = this.entries.get(key)
    if (!entry) {
      entry = Object.fromEntries(this.fields.map((f) => [f, 0n])) as Record<Field, bigint>
      this.entries.set(key, entry)
    }
    return entry
  }

  get size(): number {
    return this.entries.size
  }
}

/**
 * Deltas per time bucket (a UTC day or hour), then per key. Consecutive logs mostly share a
 * bucket, whose map is kept at hand: a change costs one lookup by the entity's own key, instead
 * of building, hashing and keeping an "entity|bucket" string per log.
 */
export class BucketedDeltas<Field extends string> {
  readonly buckets = new Map<string, DeltaMap<Field>>()
  #bucket: string | undefined
  #deltas: DeltaMap<Field> | undefined
  constructor(private readonly fields: readonly Field[]) {}

  in(bucket: string): DeltaMap<Field> {
    if (bucket !== this.#bucket || !this.#deltas) {
      let deltas = this.buckets.get(bucket)
      if (!deltas) this.buckets.set(bucket, (deltas = new DeltaMap(this.fields)))
      this.#bucket = bucket
      this.#deltas = deltas
    }
    return this.#deltas
  }

  get size(): number {
    let size = 0
    for (const deltas of this.buckets.values()) size += deltas.size
    return size
  }
}

export interface NewOrganization { address: string; index: bigint; owner: string; name: string; block: number; tx: string; time: number }
export interface NewCreator { tokenId: bigint; address: string; uri: string; block: number; tx: string; time: number }
export interface NewProduct {
  address: string; index: bigint; creator: string; creatorId: bigint; name: string; category: string; uri: string
  price: bigint; block: number; tx: string; time: number
}
export interface EnablementChange { organization: string; product: string; enabled: boolean; block: number }

/** `YYYY-MM-DD` (UTC) of a block timestamp in seconds. */
export const utcDay = (time: number): string => new Date(time * 1000).toISOString().slice(0, 10)

/**
 * `YYYY-MM-DDTHH:00Z`, the start of the UTC hour of a block timestamp in seconds: a timestamptz
 * literal that means the same instant whatever the session's time zone. `day` is its utcDay, when known.
 */
export const utcHour = (time: number, day: string = utcDay(time)): string =>
  `${day}T${String(Math.floor((time % 86_400) / 3_600)).padStart(2, '0')}:00Z`

export class BatchChanges {
  events = 0
  readonly tables = new Set<ChainTable>()

  readonly newOrganizations: NewOrganization[] = []
  readonly newCreators: NewCreator[] = []
  readonly newProducts: NewProduct[] = []
  readonly payments = new PaymentColumns()
  readonly transfers = new TransferColumns()

  /** An organization's balance is not here: it is its token_balances row, copied at write time. */
  readonly organizations = new DeltaMap(['deposited', 'spent', 'calls', 'enabled'] as const)
  readonly creators = new DeltaMap(['revenue', 'calls', 'withdrawn', 'claimable'] as const)
  readonly products = new DeltaMap(['revenue', 'calls', 'enabled'] as const)
  /** Last value wins within the batch. */
  readonly owners = new Map<string, string>()
  readonly prices = new Map<string, bigint>()
  readonly enablements = new Map<string, EnablementChange>()

  readonly balances = new DeltaMap(['balance'] as const)
  readonly creatorDaily = new BucketedDeltas(['revenue', 'calls'] as const)
  readonly productDaily = new BucketedDeltas(['revenue', 'calls'] as const)
  readonly creatorHourly = new BucketedDeltas(['revenue', 'calls'] as const)
  readonly productHourly = new BucketedDeltas(['revenue', 'calls'] as const)
  readonly orgDaily = new BucketedDeltas(['spent', 'calls'] as const)
  readonly marketDaily = new DeltaMap(['volume', 'calls'] as const)
  readonly marketHourly = new DeltaMap(['volume', 'calls'] as const)
  readonly totals = new DeltaMap(['organizations', 'creators', 'products', 'calls', 'volume'] as const)

  #bucketTime = -1
  #buckets = { day: '', hour: '' }

  /** The UTC day and hour of a block time; consecutive logs mostly share one, so the last is kept. */
  bucketsOf(time: number): { day: string; hour: string } {
    if (time !== this.#bucketTime) {
      const day = utcDay(time)
      this.#buckets = { day, hour: utcHour(time, day) }
      this.#bucketTime = time
    }
    return this.#buckets
  }

  touch(...tables: ChainTable[]): void {
    for (const t of tables) this.tables.add(t)
  }

  get isEmpty(): boolean {
    return this.events === 0
  }
}
