/**
 * The event feed's reads: payments and tUSDT transfers in chain order (block, log index), with
 * the feed's filters applied in SQL, so a replay from an old block scans only what matches.
 */
import type { ReadContext } from './context.js'
import { paymentKinds, type EventKind } from './params.js'
import { iso, type EventView } from './views.js'


export interface EventFilter {
  /** Only these kinds; all when empty. */
  kinds?: readonly EventKind[]
  /** Only events naming one of these addresses (lowercase) as organization, creator, product, account, sender or recipient. */
  addresses?: readonly string[]
}

export interface EventPosition { block: number; logIndex: number }

export interface EventRange extends EventFilter {
  /** Events strictly after this position... */
  after: EventPosition
  /** ...up to and including this block. */
  toBlock: number
  limit: number
}

/** Does `event` pass `filter`? The in-memory twin of the SQL filter, for live fan-out. */
export function matchesFilter(event: EventView, filter: EventFilter): boolean {
  if (filter.kinds && filter.kinds.length > 0 && !filter.kinds.includes(event.kind)) return false
  if (filter.addresses && filter.addresses.length > 0) {
    const named = [event.organization, event.creator, event.product, event.account, event.from, event.to]
    if (!named.some((a) => a !== null && filter.addresses!.includes(a))) return false
  }
  return true
}

const byPosition = (a: EventView, b: EventView) => a.block_number - b.block_number || a.log_index - b.log_index

/** Up to `limit` events in (after, toBlock], oldest first. */
export async function readEvents(ctx: ReadContext, range: EventRange): Promise<EventView[]> {
  const kinds = range.kinds && range.kinds.length > 0 ? range.kinds : undefined
  const addresses = range.addresses && range.addresses.length > 0 ? [...range.addresses] : undefined
  const paymentKindsWanted = kinds ? paymentKinds.filter((k) => kinds.includes(k)) : [...paymentKinds]
  const wantTransfers = !kinds || kinds.includes('transfer')
  const position = { block: String(range.after.block), logIndex: range.after.logIndex }

  const payments = paymentKindsWanted.length === 0 ? Promise.resolve([]) : (() => {
    let select = ctx.db.selectFrom('chain.payments as p')
      .leftJoin('chain.creators as c', (join) => join.onRef('c.chain_id', '=', 'p.chain_id').onRef('c.token_id', '=', 'p.creator_id'))
      .select(['p.kind', 'p.block_number', 'p.log_index', 'p.tx_hash', 'p.block_time', 'p.amount', 'p.organization', 'c.address as creator', 'p.product', 'p.account', 'p.calls', 'p.batch_id'])
      .where('p.chain_id', '=', ctx.chainId)
      .where((eb) => eb(eb.refTuple('p.block_number', 'p.log_index'), '>', eb.tuple(position.block, position.logIndex)))
      .where('p.block_number', '<=', String(range.toBlock))
    if (kinds) select = select.where('p.kind', 'in', paymentKindsWanted)
    if (addresses) {
      select = select.where((eb) => eb.or([
        eb('p.organization', 'in', addresses), eb('p.product', 'in', addresses), eb('p.account', 'in', addresses), eb('c.address', 'in', addresses),
      ]))
    }
    return select.orderBy('p.block_number').orderBy('p.log_index').limit(range.limit).execute()
  })()
  const transfers = !wantTransfers ? Promise.resolve([]) : (() => {
    let select = ctx.db.selectFrom('chain.token_transfers')
      .select(['block_number', 'log_index', 'tx_hash', 'block_time', 'amount', 'from_address', 'to_address'])
      .where('chain_id', '=', ctx.chainId)
      .where((eb) => eb(eb.refTuple('block_number', 'log_index'), '>', eb.tuple(position.block, position.logIndex)))
      .where('block_number', '<=', String(range.toBlock))
    if (addresses) select = select.where((eb) => eb.or([eb('from_address', 'in', addresses), eb('to_address', 'in', addresses)]))
    return select.orderBy('block_number').orderBy('log_index').limit(range.limit).execute()
  })()

  const [paymentRows, transferRows] = await Promise.all([payments, transfers])
  const events: EventView[] = [
    ...paymentRows.map((p): EventView => ({
      kind: p.kind, block_number: Number(p.block_number), log_index: p.log_index, tx_hash: p.tx_hash, block_time: iso(p.block_time), amount: p.amount,
      organization: p.organization, creator: p.creator, product: p.product, account: p.account, from: null, to: null, calls: p.calls, batch_id: p.batch_id,
    })),
    ...transferRows.map((t): EventView => ({
      kind: 'transfer', block_number: Number(t.block_number), log_index: t.log_index, tx_hash: t.tx_hash, block_time: iso(t.block_time), amount: t.amount,
      organization: null, creator: null, product: null, account: null, from: t.from_address, to: t.to_address, calls: null, batch_id: null,
    })),
  ]
  // Each list is the first `limit` of its kind, so their merge is exact up to the `limit`-th event.
  // A deposit and its tUSDT transfer are one log (one position): never cut between the two, or
  // the next page, which starts after that position, would skip one.
  events.sort(byPosition)
  let end = Math.min(range.limit, events.length)
  while (end < events.length && byPosition(events[end]!, events[end - 1]!) === 0) end++
  return events.slice(0, end)
}
