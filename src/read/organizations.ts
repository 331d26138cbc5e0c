/** Organizations: the list, one organization, its payments and its spend over time. */
import type { ReadContext } from './context.js'
import { decodeCursor, toPage, type Page } from './cursor.js'
import { NotFoundError } from './errors.js'
import type { OrganizationListQuery, PageQuery, SeriesQuery } from './params.js'
import { listPayments } from './payments.js'
import { readSeries } from './series.js'
import { toOrganizationView, type OrganizationView, type PaymentView, type SeriesPoint } from './views.js'
import type { PaymentKind } from '../db/index.js'

/** Organizations in creation order (their index in the orchestrator), optionally of one owner. */
export async function listOrganizations(ctx: ReadContext, query: OrganizationListQuery): Promise<Page<OrganizationView>> {
  const after = decodeCursor(query.cursor, 'organizations', ['number'])
  let select = ctx.db.selectFrom('chain.organizations').selectAll().where('chain_id', '=', ctx.chainId)
  if (query.owner) select = select.where('owner', '=', query.owner)
  if (after) select = select.where('index', '>', String(after[0]))
  const rows = await select.orderBy('index').limit(query.limit + 1).execute()
  return toPage(rows, query.limit, 'organizations', (r) => [Number(r.index)], toOrganizationView)
}

export async function getOrganization(ctx: ReadContext, address: string): Promise<OrganizationView> {
  const row = await ctx.db.selectFrom('chain.organizations').selectAll().where('chain_id', '=', ctx.chainId).where('address', '=', address).executeTakeFirst()
  if (!row) throw new NotFoundError(`no organization at ${address} is indexed`)
  return toOrganizationView(row)
}

async function requireOrganization(ctx: ReadContext, address: string): Promise<void> {
  const row = await ctx.db.selectFrom('chain.organizations').select('address').where('chain_id', '=', ctx.chainId).where('address', '=', address).executeTakeFirst()
  if (!row) throw new NotFoundError(`no organization at ${address} is indexed`)
}

export async function listOrganizationPayments(
  ctx: ReadContext, address: string, query: PageQuery & { kind?: PaymentKind | undefined },
): Promise<Page<PaymentView>> {
  await requireOrganization(ctx, address)
  return listPayments(ctx, { ...query, organization: address })
}

/** What the organization spent (charges to creators and model fees: its OrganizationExpenditure) and its AI calls, per day, week or month. */
export async function getOrganizationSpend(ctx: ReadContext, address: string, query: SeriesQuery): Promise<SeriesPoint[]> {
  const series = await readSeries(ctx, {
    table: 'chain.org_spend_daily', keyColumn: 'organization', amountColumn: 'spent', owner: { table: 'chain.organizations', keyColumn: 'address', address },
  }, query)
  if (!series) throw new NotFoundError(`no organization at ${address} is indexed`)
  return series
}
