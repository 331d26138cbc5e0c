/**
 * Writes a batch of changes in the caller's transaction. The appended rows (payments, transfers)
 * go in by COPY, one per table; entity and aggregate deltas as one statement per table with a
 * column-array parameter each (`unnest`), applied additively. Every statement is parameterized.
 *
 * An update that finds fewer rows than it has deltas means an event refers to an entity the
 * index does not hold: that is a bug or a corrupt index, and the batch fails loudly rather
 * than dropping money on the floor.
 */
import { sql, type Kysely, type Transaction } from 'kysely'
import { copyIn, type Database } from '../../src/db/index.js'
import type { BatchChanges, BucketedDeltas, DeltaMap } from '../aggregates/changes.js'
import { PAYMENT_COLUMNS, paymentsCopyText, TRANSFER_COLUMNS, transfersCopyText } from './copy-text.js'
import { pgArrayLiteral } from './pg-array.js'

type Db = Kysely<Database> | Transaction<Database>

/** A time bucket of an aggregate: its column and the SQL type its key part is cast to. */
const daily = { column: 'day', type: 'date' } as const
const hourly = { column: 'hour', type: 'timestamptz' } as const

export class IndexInvariantError extends Error {
  override name = 'IndexInvariantError'
}

/** Keys and per-field values of a delta map, as parallel arrays of decimal strings. */
function deltaColumns<F extends string>(map: DeltaMap<F>, fields: readonly F[]) {
  const keys = [...map.entries.keys()]
  const values = fields.map((f) => pgArrayLiteral(keys.map((k) => map.entries.get(k)![f])))
  return { keys: pgArrayLiteral(keys), count: keys.length, values }
}

async function expectUpdated(result: Promise<{ numAffectedRows?: bigint }>, expected: number, what: string) {
  const affected = Number((await result).numAffectedRows ?? 0n)
  if (affected !== expected) throw new IndexInvariantError(`${what}: ${expected} entities changed but ${affected} found in the index`)
}

export async function writeBatch(db: Db, chainId: number, changes: BatchChanges): Promise<void> {
  if (changes.newOrganizations.length > 0) {
    await db
      .insertInto('chain.organizations')
      .values(changes.newOrganizations.map((o) => ({
        chain_id: chainId, address: o.address, index: o.index, owner: o.owner, name: o.name,
        created_block: BigInt(o.block), created_tx: o.tx, created_at: new Date(o.time * 1000),
      })))
      .execute()
  }
  if (changes.newCreators.length > 0) {
    await db
      .insertInto('chain.creators')
      .values(changes.newCreators.map((c) => ({
        chain_id: chainId, token_id: c.tokenId, address: c.address, uri: c.uri,
        registered_block: BigInt(c.block), registered_tx: c.tx, registered_at: new Date(c.time * 1000),
      })))
      .execute()
  }
  if (changes.newProducts.length > 0) {
    await db
      .insertInto('chain.products')
      .values(changes.newProducts.map((p) => ({
        chain_id: chainId, address: p.address, index: p.index, creator: p.creator, creator_id: p.creatorId, name: p.name,
        category: p.category, uri: p.uri, price: p.price, created_block: BigInt(p.block), created_tx: p.tx, created_at: new Date(p.time * 1000),
      })))
      .execute()
  }

  await copyIn(db, 'chain.payments', PAYMENT_COLUMNS, paymentsCopyText(chainId, changes.payments))
  await copyIn(db, 'chain.token_transfers', TRANSFER_COLUMNS, transfersCopyText(chainId, changes.transfers))

  if (changes.organizations.size > 0) {
    const { keys, count, values: [deposited, spent, calls, enabled] } = deltaColumns(changes.organizations, ['deposited', 'spent', 'calls', 'enabled'])
    await expectUpdated(
      sql`
        update chain.organizations as o set
          deposited = o.deposited + d.deposited, spent = o.spent + d.spent,
          calls = o.calls + d.calls, enabled_product_count = o.enabled_product_count + d.enabled
        from unnest(${keys}::text[], ${deposited}::numeric[], ${spent}::numeric[], ${calls}::int8[], ${enabled}::int[])
          as d(address, deposited, spent, calls, enabled)
        where o.chain_id = ${chainId} and o.address = d.address
      `.execute(db),
      count,
      'organizations',
    )
  }
  if (changes.creators.size > 0) {
    const { keys, count, values: [revenue, calls, withdrawn, claimable] } = deltaColumns(changes.creators, ['revenue', 'calls', 'withdrawn', 'claimable'])
    await expectUpdated(
      sql`
        update chain.creators as c set
          revenue = c.revenue + d.revenue, calls = c.calls + d.calls, withdrawn = c.withdrawn + d.withdrawn, claimable = c.claimable + d.claimable
        from unnest(${keys}::int8[], ${revenue}::numeric[], ${calls}::int8[], ${withdrawn}::numeric[], ${claimable}::numeric[])
          as d(token_id, revenue, calls, withdrawn, claimable)
        where c.chain_id = ${chainId} and c.token_id = d.token_id
      `.execute(db),
      count,
      'creators',
    )
  }
  if (changes.products.size > 0) {
    const { keys, count, values: [revenue, calls, enabled] } = deltaColumns(changes.products, ['revenue', 'calls', 'enabled'])
    await expectUpdated(
      sql`
        update chain.products as p set revenue = p.revenue + d.revenue, calls = p.calls + d.calls, enabled_count = p.enabled_count + d.enabled
        from unnest(${keys}::text[], ${revenue}::numeric[], ${calls}::int8[], ${enabled}::int[]) as d(address, revenue, calls, enabled)
        where p.chain_id = ${chainId} and p.address = d.address
      `.execute(db),
      count,
      'products',
    )
  }
  if (changes.owners.size > 0) {
    const keys = [...changes.owners.keys()]
    await expectUpdated(
      sql`
        update chain.organizations as o set owner = d.owner
        from unnest(${pgArrayLiteral(keys)}::text[], ${pgArrayLiteral(keys.map((k) => changes.owners.get(k)!))}::text[]) as d(address, owner)
        where o.chain_id = ${chainId} and o.address = d.address
      `.execute(db),
      keys.length,
      'organization owners',
    )
  }
  if (changes.prices.size > 0) {
    const keys = [...changes.prices.keys()]
    await expectUpdated(
      sql`
        update chain.products as p set price = d.price
        from unnest(${pgArrayLiteral(keys)}::text[], ${pgArrayLiteral(keys.map((k) => changes.prices.get(k)!))}::numeric[]) as d(address, price)
        where p.chain_id = ${chainId} and p.address = d.address
      `.execute(db),
      keys.length,
      'product prices',
    )
  }
  if (changes.enablements.size > 0) {
    const rows = [...changes.enablements.values()]
    await db
      .insertInto('chain.product_enablements')
      .values(rows.map((e) => ({ chain_id: chainId, organization: e.organization, product: e.product, enabled: e.enabled, updated_block: BigInt(e.block) })))
      .onConflict((oc) => oc.columns(['chain_id', 'organization', 'product']).doUpdateSet((eb) => ({
        enabled: eb.ref('excluded.enabled'),
        updated_block: eb.ref('excluded.updated_block'),
      })))
      .execute()
  }

  if (changes.balances.size > 0) {
    const { keys, values: [balance] } = deltaColumns(changes.balances, ['balance'])
    await sql`
      insert into chain.token_balances (chain_id, address, balance)
      select ${chainId}, d.address, d.balance from unnest(${keys}::text[], ${balance}::numeric[]) as d(address, balance)
      on conflict (chain_id, address) do update set balance = chain.token_balances.balance + excluded.balance
    `.execute(db)
  }
  if (changes.balances.size > 0) {
    // An organization's balance is its tUSDT balance (tUSDT sent before its creation included):
    // copied from token_balances, now up to date with this batch, for every address it moved.
    await sql`
      update chain.organizations as o set balance = b.balance
      from chain.token_balances as b
      where o.chain_id = ${chainId} and b.chain_id = o.chain_id and b.address = o.address
        and o.address = any(${pgArrayLiteral([...changes.balances.entries.keys()])}::text[])
    `.execute(db)
  }
  await addToBuckets(db, chainId, 'creator_revenue_daily', 'creator_id', 'int8', daily, ['revenue', 'calls'], changes.creatorDaily)
  await addToBuckets(db, chainId, 'creator_revenue_hourly', 'creator_id', 'int8', hourly, ['revenue', 'calls'], changes.creatorHourly)
  await addToBuckets(db, chainId, 'product_stats_daily', 'product', 'text', daily, ['revenue', 'calls'], changes.productDaily)
  await addToBuckets(db, chainId, 'product_stats_hourly', 'product', 'text', hourly, ['revenue', 'calls'], changes.productHourly)
  await addToBuckets(db, chainId, 'org_spend_daily', 'organization', 'text', daily, ['spent', 'calls'], changes.orgDaily)
  await addToMarket(db, chainId, 'market_daily', daily, changes.marketDaily)
  await addToMarket(db, chainId, 'market_hourly', hourly, changes.marketHourly)
  const totals = changes.totals.entries.get('')
  if (totals) {
    await db
      .insertInto('chain.market_totals')
      .values({ chain_id: chainId, organizations: totals.organizations, creators: totals.creators, products: totals.products, calls: totals.calls, volume: totals.volume })
      .onConflict((oc) => oc.column('chain_id').doUpdateSet({
        organizations: sql`chain.market_totals.organizations + excluded.organizations`,
        creators: sql`chain.market_totals.creators + excluded.creators`,
        products: sql`chain.market_totals.products + excluded.products`,
        calls: sql`chain.market_totals.calls + excluded.calls`,
        volume: sql`chain.market_totals.volume + excluded.volume`,
      }))
      .execute()
  }
}

/**
 * Adds deltas per entity and time bucket into an aggregate (chain_id, entity, bucket) whose first
 * field is an amount and second a call count. A bucket is a UTC day (`YYYY-MM-DD`, a date) or a
 * UTC hour (`YYYY-MM-DDTHH:00Z`, a timestamptz).
 */
async function addToBuckets<F extends string>(
  db: Db,
  chainId: number,
  table: 'creator_revenue_daily' | 'product_stats_daily' | 'org_spend_daily' | 'creator_revenue_hourly' | 'product_stats_hourly',
  keyColumn: string,
  keyType: 'int8' | 'text',
  bucket: typeof daily | typeof hourly,
  [amountField, callsField]: readonly [amount: F, calls: F],
  deltas: BucketedDeltas<F>,
): Promise<void> {
  if (deltas.size === 0) return
  const keys: string[] = []
  const buckets: string[] = []
  const amounts: bigint[] = []
  const calls: bigint[] = []
  for (const [at, entries] of deltas.buckets) {
    for (const [key, entry] of entries.entries) {
      keys.push(key)
      buckets.push(at)
      amounts.push(entry[amountField])
      calls.push(entry[callsField])
    }
  }
  const [amount, count] = [sql.ref(amountField), sql.ref(callsField)]
  const bucketColumn = sql.ref(bucket.column)
  await sql`
    insert into ${sql.table(`chain.${table}`)} as t (chain_id, ${sql.ref(keyColumn)}, ${bucketColumn}, ${amount}, ${count})
    select ${chainId}, d.k, d.bucket, d.amount, d.calls
    from unnest(${pgArrayLiteral(keys)}::${sql.raw(keyType)}[], ${pgArrayLiteral(buckets)}::${sql.raw(bucket.type)}[], ${pgArrayLiteral(amounts)}::numeric[], ${pgArrayLiteral(calls)}::int8[])
      as d(k, bucket, amount, calls)
    on conflict (chain_id, ${sql.ref(keyColumn)}, ${bucketColumn}) do update set
      ${amount} = t.${amount} + excluded.${amount}, ${count} = t.${count} + excluded.${count}
  `.execute(db)
}

/** Adds market-wide volume and call deltas keyed by bucket (a day or an hour) into market_daily or market_hourly. */
async function addToMarket(
  db: Db, chainId: number, table: 'market_daily' | 'market_hourly', bucket: typeof daily | typeof hourly, deltas: DeltaMap<'volume' | 'calls'>,
): Promise<void> {
  if (deltas.size === 0) return
  const { keys, values: [volume, calls] } = deltaColumns(deltas, ['volume', 'calls'])
  const column = sql.ref(bucket.column)
  await sql`
    insert into ${sql.table(`chain.${table}`)} as t (chain_id, ${column}, volume, calls)
    select ${chainId}, d.k::${sql.raw(bucket.type)}, d.volume, d.calls from unnest(${keys}::text[], ${volume}::numeric[], ${calls}::int8[]) as d(k, volume, calls)
    on conflict (chain_id, ${column}) do update set volume = t.volume + excluded.volume, calls = t.calls + excluded.calls
  `.execute(db)
}
