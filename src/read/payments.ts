/** Payments (charges, model fees, settlements, withdrawals, deposits) and what one transaction did. */
import type { ReadContext } from './context.js'
import { decodeCursor, toPage, type Page } from './cursor.js'
import { InvalidArgumentError, NotFoundError } from './errors.js'
import type { PaymentListQuery } from './params.js'
import { iso, type PaymentView, type TransactionView, type TransferView } from './views.js'

function selectPayments(ctx: ReadContext) {
  return ctx.db
    .selectFrom('chain.payments as p')
    .leftJoin('chain.creators as c', (join) => join.onRef('c.chain_id', '=', 'p.chain_id').onRef('c.token_id', '=', 'p.creator_id'))
    .select([
      'p.tx_hash', 'p.log_index', 'p.block_number', 'p.block_time', 'p.kind', 'p.organization', 'c.address as creator', 'p.creator_id',
      'p.product', 'p.amount', 'p.calls', 'p.batch_id', 'p.account',
    ])
    .where('p.chain_id', '=', ctx.chainId)
}

type PaymentRow = Awaited<ReturnType<ReturnType<typeof selectPayments>['execute']>>[number]

export function toPaymentView(row: PaymentRow): PaymentView {
  return {
    tx_hash: row.tx_hash, log_index: row.log_index, block_number: Number(row.block_number), block_time: iso(row.block_time), kind: row.kind,
    organization: row.organization, creator: row.creator, creator_id: row.creator_id, product: row.product, amount: row.amount, calls: row.calls,
    batch_id: row.batch_id, account: row.account,
  }
}

/** Newest first: by block, then log index (unique within a block). */
export async function listPayments(ctx: ReadContext, query: Omit<PaymentListQuery, 'from_block' | 'to_block'> & Partial<Pick<PaymentListQuery, 'from_block' | 'to_block'>>): Promise<Page<PaymentView>> {
  const before = decodeCursor(query.cursor, 'payments', ['number', 'int'])
  if (query.from_block !== undefined && query.to_block !== undefined && query.from_block > query.to_block) {
    throw new InvalidArgumentError('from_block', 'must not be after to_block')
  }
  let select = selectPayments(ctx)
  if (query.organization) select = select.where('p.organization', '=', query.organization)
  if (query.product) select = select.where('p.product', '=', query.product)
  if (query.kind) select = select.where('p.kind', '=', query.kind)
  if (query.creator) {
    const creator = query.creator
    select = select.where('p.creator_id', '=', (eb) =>
      eb.selectFrom('chain.creators').select('token_id').where('chain_id', '=', ctx.chainId).where('address', '=', creator))
  }
  if (query.from_block !== undefined) select = select.where('p.block_number', '>=', String(query.from_block))
  if (query.to_block !== undefined) select = select.where('p.block_number', '<=', String(query.to_block))
  if (before) select = select.where((eb) => eb(eb.refTuple('p.block_number', 'p.log_index'), '<', eb.tuple(String(before[0]), before[1])))
  const rows = await select.orderBy('p.block_number', 'desc').orderBy('p.log_index', 'desc').limit(query.limit + 1).execute()
  return toPage(rows, query.limit, 'payments', (r) => [Number(r.block_number), r.log_index], toPaymentView)
}

export function toTransferView(row: { tx_hash: string; log_index: number; block_number: string; block_time: Date; from_address: string; to_address: string; amount: string }): TransferView {
  return {
    tx_hash: row.tx_hash, log_index: row.log_index, block_number: Number(row.block_number), block_time: iso(row.block_time),
    from: row.from_address, to: row.to_address, amount: row.amount,
  }
}


/** Everything the index holds about one transaction; 404 when it touched nothing indexed. */
export async function getTransaction(ctx: ReadContext, hash: string): Promise<TransactionView> {
  const [payments, transfers, organizations, products, creators] = await Promise.all([
    selectPayments(ctx).where('p.tx_hash', '=', hash).orderBy('p.log_index').execute(),
    ctx.db.selectFrom('chain.token_transfers').selectAll().where('chain_id', '=', ctx.chainId).where('tx_hash', '=', hash).orderBy('log_index').execute(),
    ctx.db.selectFrom('chain.organizations').select(['address', 'created_block as block', 'created_at as time']).where('chain_id', '=', ctx.chainId).where('created_tx', '=', hash).execute(),
    ctx.db.selectFrom('chain.products').select(['address', 'created_block as block', 'created_at as time']).where('chain_id', '=', ctx.chainId).where('created_tx', '=', hash).execute(),
    ctx.db.selectFrom('chain.creators').select(['address', 'registered_block as block', 'registered_at as time']).where('chain_id', '=', ctx.chainId).where('registered_tx', '=', hash).execute(),
  ])
  const anchor = payments[0] ?? transfers[0] ?? organizations[0] ?? products[0] ?? creators[0]
  if (!anchor) throw new NotFoundError(`transaction ${hash} touched nothing indexed (or is not indexed yet)`)
  const [block, time] = 'block_number' in anchor ? [anchor.block_number, anchor.block_time] : [anchor.block, anchor.time]
  return {
    hash,
    block_number: Number(block),
    block_time: iso(time),
    payments: payments.map(toPaymentView),
    transfers: transfers.map(toTransferView),
    organizations_created: organizations.map((o) => o.address),
    products_created: products.map((p) => p.address),
    creators_registered: creators.map((c) => c.address),
  }
}
