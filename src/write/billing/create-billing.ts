/**
 * Billing against app.usage_ledger. What an organization owes and has not settled is kept in
 * app.billing_accounts.owed by the same statements that move lines in or out of that state, so a
 * reservation is a single statement: add the amount to `owed` only if it still fits under the
 * indexed balance, and insert the line and its products.
 *
 * Concurrent calls are group-committed (group-commit.ts): the reservations and the closings
 * (charges, releases) that arrive while one statement runs go together in the next, so at load a
 * round trip and a commit serve many calls. The statement locks the accounts it touches (FOR UPDATE,
 * which under READ COMMITTED yields their latest committed `owed`, across processes) and accepts
 * each organization's calls in order while their running sum fits; a call it does not accept
 * (an organization's first call, one at the edge of its balance, a repeated request id) takes
 * the single-call path, which decides it exactly. A scoped key's monthly limit adds a
 * transaction that serialises that key's reservations with an advisory lock.
 */
import { sql, type Kysely } from 'kysely'
import { formatUnits } from 'viem'
import type { ChainConfig } from '../../config/index.js'
import { preparedAs, type Database } from '../../db/index.js'
import type { Logger, Registry } from '../../obs/index.js'
import { ORG_EVENTS_CHANNEL, usageEventPayload } from '../events/index.js'
import { indexedBalance, keySpentSince, startOfUtcMonth } from './balance.js'
import { DuplicateRequestError, InsufficientQuotaError, type Billing, type ChargeRequest, type Reservation, type Usage } from './billing.js'
import { createBillingMetrics } from './metrics.js'
import { createGroupCommit } from './group-commit.js'

export interface BillingOptions {
  db: Kysely<Database>
  chain: ChainConfig
  logger: Logger
  metrics: Registry
  now?: () => Date
}

type Db = Kysely<Database>

/** A call waiting for its reservation. */
interface Reservable { request: ChargeRequest; organization: string; amount: bigint; at: Date }
/** A reserved line waiting to be charged or released, with its event's payload. */
interface Closing { reservation: Reservation; status: 'charged' | 'released'; usage: Usage | null; payload: string }
/** What the billing queue writes: a reservation (answered with its line id) or a closing (whether it closed the line). */
type Op = { reserve: Reservable } | { close: Closing }

const TUSDT_DECIMALS = 18
const tusdt = (amount: bigint) => `${formatUnits(amount, TUSDT_DECIMALS)} tUSDT`

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505'
}

export function createBilling(options: BillingOptions): Billing {
  const { db, chain, logger } = options
  const now = options.now ?? (() => new Date())
  const metrics = createBillingMetrics(options.metrics)

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

  /** One call alone: reserved, or refused with the reason (after creating its account at its first call). */
  async function reserveWithin(q: Db, item: Reservable): Promise<string> {
    for (;;) {
      const id = (await writeLines(q, [item], [])).reserved.get(item.request.requestId)
      if (id !== undefined) return id
      const refused = await refusal(q, item.organization, item.amount)
      if (refused) throw refused
    }
  }

  /** A scoped key's monthly limit, checked and reserved under the key's lock. */
  async function reserveUnderLimit(item: Reservable, limit: bigint, apiKeyId: string): Promise<string> {
    const { amount, at } = item
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
      return reserveWithin(trx, item)
    })
  }

  /**
   * One statement for any number of reservations and closings (see the header): the closings move
   * reserved lines to their status, give released amounts back and tell each organization's
   * subscribers (NOTIFY, on commit); the reservations then see those amounts back. Returns the
   * request ids it reserved, with their line ids, and the ids of the lines it closed. Accounts it
   * cannot see yet and calls past the running sum are left out; a line not reserved any more
   * (closed twice) is left as it is.
   */
  async function writeLines(q: Db, items: readonly Reservable[], closing: readonly Closing[]): Promise<{ reserved: Map<string, string>; closed: Set<string> }> {
    const products = items.flatMap((item) => item.request.products.map((p) => ({ requestId: item.request.requestId, product: p.product.toLowerCase(), amount: p.amount.toString() })))
    const tokens = (pick: (usage: Usage) => number) => closing.map((x) => (x.status === 'charged' && x.usage ? pick(x.usage) : null))
    const { rows } = await sql<{ request_id: string | null; id: string }>`${preparedAs('haithe_billing_lines')}
      with closed as (
        -- A function only so that its plan cannot scan the ledger (see migration 0009).
        select line_id as id, line_organization as organization, line_amount as amount, line_status as status, line_payload as payload
        from app.close_usage_lines(
          ${closing.map((x) => x.reservation.id)}::bigint[], ${closing.map((x) => x.status)}::text[],
          ${tokens((u) => u.promptTokens)}::int[], ${tokens((u) => u.completionTokens)}::int[], ${tokens((u) => u.totalTokens)}::int[],
          ${closing.map((x) => x.payload)}::text[], ${now()}
        )
      ), released as (
        select organization, sum(amount) as total from closed where status = 'released' group by organization
      ), req as (
        select * from unnest(
          ${items.map((_, i) => i)}::int[], ${items.map((x) => x.request.requestId)}::text[], ${items.map((x) => x.organization)}::text[],
          ${items.map((x) => x.request.projectId)}::bigint[], ${items.map((x) => x.request.apiKeyId)}::bigint[],
          ${items.map((x) => x.request.wallet.toLowerCase())}::text[], ${items.map((x) => x.request.modelId)}::int[],
          ${items.map((x) => x.request.modelAmount.toString())}::numeric[], ${items.map((x) => x.amount.toString())}::numeric[],
          ${items.map((x) => x.at.toISOString())}::timestamptz[]
        ) as r(i, request_id, organization, project_id, api_key_id, wallet, model_id, model_amount, amount, at)
      ), account as (
        -- What each organization owes once this statement's releases are given back.
        select a.organization, a.owed - coalesce(released.total, 0) as owed, coalesce(o.balance, 0) as balance
        from app.billing_accounts a
        left join chain.organizations o on o.chain_id = a.chain_id and o.address = a.organization
        left join released on released.organization = a.organization
        where a.chain_id = ${chain.chainId} and a.organization in (select organization from req)
        for update of a
      ), accepted as (
        select * from (
          select req.*, account.owed + sum(req.amount) over (partition by req.organization order by req.i) as owed_after, account.balance
          from req join account using (organization)
        ) running
        where owed_after <= balance
      ), owed as (
        -- One change per account (a row cannot be updated twice in one statement): reserved minus released.
        update app.billing_accounts a set owed = a.owed + s.delta
        from (
          select organization, sum(delta) as delta
          from (select organization, amount as delta from accepted union all select organization, -total from released) d
          group by organization
        ) s
        where a.chain_id = ${chain.chainId} and a.organization = s.organization
      ), line as (
        insert into app.usage_ledger (request_id, chain_id, organization, project_id, api_key_id, wallet, model_id, model_amount, amount, status, created_at, updated_at)
        select request_id, ${chain.chainId}, organization, project_id, api_key_id, wallet, model_id, model_amount, amount, 'reserved', at, at
        from accepted order by i
        returning id, request_id
      ), products as (
        insert into app.usage_line_products (ledger_id, product, amount)
        select line.id, p.product, p.amount
        from line join unnest(${products.map((p) => p.requestId)}::text[], ${products.map((p) => p.product)}::text[], ${products.map((p) => p.amount)}::numeric[])
          as p(request_id, product, amount) using (request_id)
      )
      select request_id, id::text, null as notified from line
      union all
      select null, id::text, pg_notify(${ORG_EVENTS_CHANNEL}, payload)::text from closed`.execute(q)
    const reserved = new Map<string, string>()
    const closed = new Set<string>()
    for (const row of rows) {
      if (row.request_id === null) closed.add(row.id)
      else reserved.set(row.request_id, row.id)
    }
    return { reserved, closed }
  }

  /**
   * A batch of reservations and closings: one statement for what it can take, then each
   * reservation it left out on its own (which decides it exactly), and, if the statement failed,
   * the closings alone.
   */
  async function writeBatch(ops: readonly Op[]): Promise<PromiseSettledResult<string | boolean>[]> {
    // A request id twice in one batch would fail the whole statement: the repeat goes alone.
    const seen = new Set<string>()
    const items = ops.flatMap((op) => ('reserve' in op && !seen.has(op.reserve.request.requestId) && seen.add(op.reserve.request.requestId) ? [op.reserve] : []))
    const closing = ops.flatMap((op) => ('close' in op ? [op.close] : []))
    let written: { reserved: Map<string, string>; closed: Set<string> } | undefined
    try {
      written = await writeLines(db, items, closing)
    } catch (error) {
      // A request id already in the ledger fails the statement; so may the database. The closings
      // then go alone, and each reservation alone gets its own answer.
      if (!isUniqueViolation(error)) logger.debug({ err: error }, 'batched billing statement failed; writing one by one')
    }
    // Closings first: what they release is room for the reservations that go alone.
    let closed = written?.closed ?? new Set<string>()
    let closeFailure: { error: unknown } | undefined
    if (!written && closing.length > 0) {
      try {
        closed = (await writeLines(db, [], closing)).closed
      } catch (error) {
        closeFailure = { error }
      }
    }
    const batched = new Set(items)
    return Promise.allSettled(ops.map(async (op) => {
      if ('close' in op) {
        if (closeFailure) throw closeFailure.error
        return closed.has(op.close.reservation.id)
      }
      const id = batched.has(op.reserve) ? written?.reserved.get(op.reserve.request.requestId) : undefined
      return id ?? reserveWithin(db, op.reserve)
    }))
  }
  // Reservations and closings share one queue: under load a statement carries both, so a call
  // costs about one round trip and one commit instead of two.
  const writeGrouped = createGroupCommit({ write: writeBatch })

  async function reserve(request: ChargeRequest): Promise<Reservation> {
    const organization = request.organization.toLowerCase()
    const amount = request.products.reduce((sum, p) => sum + p.amount, request.modelAmount)
    const item: Reservable = { request, organization, amount, at: now() }
    try {
      const id = request.monthlyLimit !== null && request.apiKeyId !== null
        ? await reserveUnderLimit(item, request.monthlyLimit, request.apiKeyId)
        : ((await writeGrouped({ reserve: item })) as string)
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

  async function close(reservation: Reservation, status: 'charged' | 'released', usage: Usage | null): Promise<void> {
    const payload = usageEventPayload({
      chainId: chain.chainId, organization: reservation.organization, requestId: reservation.requestId, projectId: reservation.projectId,
      modelId: reservation.modelId, amount: reservation.amount.toString(), status,
      tokens: status === 'charged' && usage ? { prompt: usage.promptTokens, completion: usage.completionTokens, total: usage.totalTokens } : null,
    })
    if (await writeGrouped({ close: { reservation, status, usage, payload } })) {
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
