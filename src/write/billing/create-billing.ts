/**
 * Billing against app.usage_ledger, one statement per step. What an organization owes and has
 * not settled is kept in app.billing_accounts.owed by the same statements that move lines in or
 * out of that state, so reserve() is a single statement: add the amount to `owed` only if it
 * still fits under the indexed balance, and insert the line and its products from that row.
 * Concurrent reservations of one organization queue on its account row (on PostgreSQL across the
 * pool and across gateway processes) for the length of one statement; under READ COMMITTED the
 * waiting UPDATE re-checks its condition on the row the previous one committed. A scoped key's
 * monthly limit adds a transaction that serialises that key's reservations with an advisory lock.
 */
import { sql, type Kysely } from 'kysely'
import { formatUnits } from 'viem'
import type { ChainConfig } from '../../config/index.js'
import type { Database } from '../../db/index.js'
import type { Logger, Registry } from '../../obs/index.js'
import { notifyUsage } from '../events/index.js'
import { indexedBalance, keySpentSince, startOfUtcMonth } from './balance.js'
import { DuplicateRequestError, InsufficientQuotaError, type Billing, type ChargeRequest, type Reservation, type Usage } from './billing.js'
import { createBillingMetrics } from './metrics.js'

export interface BillingOptions {
  db: Kysely<Database>
  chain: ChainConfig
  logger: Logger
  metrics: Registry
  now?: () => Date
}

type Db = Kysely<Database>

const TUSDT_DECIMALS = 18
const tusdt = (amount: bigint) => `${formatUnits(amount, TUSDT_DECIMALS)} tUSDT`

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505'
}

export function createBilling(options: BillingOptions): Billing {
  const { db, chain, logger } = options
  const now = options.now ?? (() => new Date())
  const metrics = createBillingMetrics(options.metrics)

  /** The line, if the amount still fits: one statement (see the header). */
  async function reserveLine(q: Db, request: ChargeRequest, organization: string, amount: bigint, at: Date): Promise<string | undefined> {
    const products = request.products.map((p) => p.product.toLowerCase())
    const amounts = request.products.map((p) => p.amount.toString())
    const { rows } = await sql<{ id: string }>`
      with account as (
        update app.billing_accounts a set owed = a.owed + ${amount.toString()}::numeric
        where a.chain_id = ${chain.chainId} and a.organization = ${organization}
          and a.owed + ${amount.toString()}::numeric <= coalesce(
            (select o.balance from chain.organizations o where o.chain_id = ${chain.chainId} and o.address = ${organization}), 0)
        returning a.organization
      ), line as (
        insert into app.usage_ledger (request_id, chain_id, organization, project_id, api_key_id, wallet, model_id, model_amount, amount, status, created_at, updated_at)
        select ${request.requestId}, ${chain.chainId}, account.organization, ${request.projectId}, ${request.apiKeyId}, ${request.wallet.toLowerCase()},
          ${request.modelId}, ${request.modelAmount.toString()}::numeric, ${amount.toString()}::numeric, 'reserved', ${at}, ${at}
        from account
        returning id
      ), products as (
        insert into app.usage_line_products (ledger_id, product, amount)
        select line.id, p.product, p.amount from line, unnest(${products}::text[], ${amounts}::numeric[]) as p(product, amount)
      )
      select id::text from line`.execute(q)
    return rows[0]?.id
  }

  /** Why a reservation did not fit (and creates the organization's account row at its first call). */
  async function refusal(q: Db, organization: string, amount: bigint): Promise<InsufficientQuotaError | undefined> {
    const created = await q.insertInto('app.billing_accounts').values({ chain_id: chain.chainId, organization }).onConflict((oc) => oc.doNothing()).executeTakeFirst()
    if ((created.numInsertedOrUpdatedRows ?? 0n) > 0n) return undefined // the first call: try again
    const balance = await indexedBalance(q, chain.chainId, organization)
    const account = await q.selectFrom('app.billing_accounts').select('owed').where('chain_id', '=', chain.chainId).where('organization', '=', organization).executeTakeFirstOrThrow()
    const owed = BigInt(account.owed)
    const available = balance - owed
    if (amount <= available) return undefined // it fits now (a settlement or a release in between)
    return new InsufficientQuotaError(
      `insufficient balance: the organization has ${tusdt(balance)} on chain, owes ${tusdt(owed)} not yet settled, ` +
        `and this call needs ${tusdt(amount)}; add funds to the organization`,
      'balance', amount, available > 0n ? available : 0n,
    )
  }

  async function reserveWithin(q: Db, request: ChargeRequest, organization: string, amount: bigint, at: Date): Promise<string> {
    for (;;) {
      const id = await reserveLine(q, request, organization, amount, at)
      if (id !== undefined) return id
      const refused = await refusal(q, organization, amount)
      if (refused) throw refused
    }
  }

  /** A scoped key's monthly limit, checked and reserved under the key's lock. */
  async function reserveUnderLimit(request: ChargeRequest, organization: string, amount: bigint, limit: bigint, apiKeyId: string, at: Date): Promise<string> {
    return db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext(${`haithe:key-limit:${apiKeyId}`}))`.execute(trx)
      const spent = await keySpentSince(trx, apiKeyId, startOfUtcMonth(at))
      if (spent + amount > limit) {
        const left = limit - spent
        throw new InsufficientQuotaError(
          `monthly limit reached: this API key may spend ${tusdt(limit)} a month, has used ${tusdt(spent)}, and this call needs ${tusdt(amount)}`,
          'monthly_limit', amount, left > 0n ? left : 0n,
        )
      }
      return reserveWithin(trx, request, organization, amount, at)
    })
  }

  async function reserve(request: ChargeRequest): Promise<Reservation> {
    const organization = request.organization.toLowerCase()
    const amount = request.products.reduce((sum, p) => sum + p.amount, request.modelAmount)
    const at = now()
    try {
      const id = request.monthlyLimit !== null && request.apiKeyId !== null
        ? await reserveUnderLimit(request, organization, amount, request.monthlyLimit, request.apiKeyId, at)
        : await reserveWithin(db, request, organization, amount, at)
      metrics.reservations.inc({ outcome: 'reserved' })
      return { id, requestId: request.requestId, amount, organization, projectId: request.projectId, modelId: request.modelId }
    } catch (error) {
      if (error instanceof InsufficientQuotaError) {
        metrics.reservations.inc({ outcome: error.reason === 'balance' ? 'insufficient_balance' : 'monthly_limit' })
        throw error
      }
      if (isUniqueViolation(error)) throw new DuplicateRequestError(request.requestId)
      throw error
    }
  }

  /**
   * Moves a reserved line to `status` in one statement that also, for a release, gives the
   * amount back to the account, and tells the organization's subscribers (NOTIFY, on commit). A
   * repeat (or a line already closed otherwise) changes nothing.
   */
  async function close(reservation: Reservation, status: 'charged' | 'released', usage: Usage | null): Promise<void> {
    const tokens = status === 'charged' && usage ? { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.totalTokens } : {}
    const notify = notifyUsage({
      chainId: chain.chainId, organization: reservation.organization, requestId: reservation.requestId, projectId: reservation.projectId,
      modelId: reservation.modelId, amount: reservation.amount.toString(), status,
      tokens: status === 'charged' && usage ? { prompt: usage.promptTokens, completion: usage.completionTokens, total: usage.totalTokens } : null,
    })
    const closed = await db
      .with('line', (q) => q.updateTable('app.usage_ledger').set({ status, updated_at: now(), ...tokens })
        .where('id', '=', reservation.id).where('status', '=', 'reserved').returning(['chain_id', 'organization', 'amount']))
      .with('account', (q) => q.updateTable('app.billing_accounts as a')
        .from('line')
        .set({ owed: sql`a.owed - line.amount` })
        .whereRef('a.chain_id', '=', 'line.chain_id').whereRef('a.organization', '=', 'line.organization')
        .where(sql.lit(status === 'released'))
        .returning('a.organization'))
      .selectFrom('line')
      .select(notify.as('notified'))
      .executeTakeFirst()
    if (closed) {
      metrics.settledCalls.inc({ outcome: status })
      return
    }
    const line = await db.selectFrom('app.usage_ledger').select('status').where('id', '=', reservation.id).executeTakeFirst()
    if (line?.status !== status) {
      logger.warn({ ledgerId: reservation.id, requestId: reservation.requestId, status: line?.status ?? null, wanted: status }, 'usage line is not reserved; left as it is')
    }
  }

  return {
    reserve,
    charge: (reservation, usage) => close(reservation, 'charged', usage),
    release: (reservation) => close(reservation, 'released', null),
  }
}
