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
 *
 * A call whose answer waits for its charge (answerAwaitsCharge) is reserved in memory instead,
 * while this process last saw its organization with room for at least HEADROOM_CALLS such calls
 * beyond those it holds, within ROOM_FRESH_MS: no statement before the call, and one after it,
 * which writes the line charged (or released) and, for a charge, checks it against the balance
 * like a reservation. Within the process the room is exact; the headroom only covers other
 * processes spending at the same time, which at worst refuses a charge (402) after the provider
 * answered: the answer is not sent, and nothing is ever overspent. Near the edge, and for
 * streams and limited keys, every call takes the reservation above. A process that dies mid-call
 * leaves no line for it, as a released reservation would be.
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

/**
 * A line to write: a reservation, or the whole line of a call reserved in memory (charged or
 * released, with its tokens and its event's payload).
 */
interface Reservable {
  request: ChargeRequest; organization: string; amount: bigint; at: Date
  status: 'reserved' | 'charged' | 'released'; usage: Usage | null; payload: string | null
}
/** A reserved line waiting to be charged or released, with its event's payload. */
interface Closing { reservation: Reservation; status: 'charged' | 'released'; usage: Usage | null; payload: string }
/** What the billing queue writes: a reservation (answered with its line id) or a closing (whether it closed the line). */
type Op = { reserve: Reservable } | { close: Closing }

/** How long what a statement said of an organization's room may be used for in-memory reservations. */
const ROOM_FRESH_MS = 1_000
/** In-memory reservations need room for this many more calls of the same price beyond them. */
const HEADROOM_CALLS = 1_000n

const TUSDT_DECIMALS = 18
const tusdt = (amount: bigint) => `${formatUnits(amount, TUSDT_DECIMALS)} tUSDT`

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505'
}

export function createBilling(options: BillingOptions): Billing {
  const { db, chain, logger } = options
  const now = options.now ?? (() => new Date())
  const metrics = createBillingMetrics(options.metrics)
  /**
   * Per organization: balance − owed after this process's last statement that touched it, and
   * what its calls reserved in memory hold.
   */
  const rooms = new Map<string, { room: bigint; at: number; held: bigint }>()
  /** The lines of calls reserved in memory, written when they end. */
  const inMemory = new WeakMap<Reservation, Reservable>()

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

  /** One line alone: written, or refused with the reason (after creating its account at its first call). */
  async function reserveWithin(q: Db, item: Reservable): Promise<string> {
    for (;;) {
      const id = (await writeLines(q, [item], [])).reserved.get(item.request.requestId)
      if (id !== undefined) return id
      // A released line owes nothing: only a missing account keeps it out (created just now).
      const refused = await refusal(q, item.organization, item.status === 'released' ? 0n : item.amount)
      if (refused && item.status !== 'released') throw refused
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
   * One statement for any number of new lines and closings (see the header): the closings move
   * reserved lines to their status, give released amounts back and tell each organization's
   * subscribers (NOTIFY, on commit); the new lines (reserved, or the whole line of a call reserved
   * in memory, told like a closing) then see those amounts back. Returns the request ids it wrote,
   * with their line ids, and the ids of the lines it closed; notes each organization's room after
   * it. Accounts it cannot see yet and lines past the running sum are left out (a released line
   * owes nothing and always fits); a line not reserved any more (closed twice) is left as it is.
   */
  async function writeLines(q: Db, items: readonly Reservable[], closing: readonly Closing[]): Promise<{ reserved: Map<string, string>; closed: Set<string> }> {
    const products = items.flatMap((item) => item.request.products.map((p) => ({ requestId: item.request.requestId, product: p.product.toLowerCase(), amount: p.amount.toString() })))
    const closingUsage = closing.map((x) => (x.status === 'charged' ? x.usage : null))
    const itemUsage = items.map((x) => (x.status === 'charged' ? x.usage : null))
    const tokens = (usage: readonly (Usage | null)[], pick: (u: Usage) => number) => usage.map((u) => (u ? pick(u) : null))
    const { rows } = await sql<{ request_id: string | null; id: string | null; room: string | null }>`${preparedAs('haithe_billing_lines')}
      with closed as (
        -- A function only so that its plan cannot scan the ledger (see migration 0009).
        select line_id as id, line_organization as organization, line_amount as amount, line_status as status, line_payload as payload
        from app.close_usage_lines(
          ${closing.map((x) => x.reservation.id)}::bigint[], ${closing.map((x) => x.status)}::text[],
          ${tokens(closingUsage, (u) => u.promptTokens)}::int[], ${tokens(closingUsage, (u) => u.completionTokens)}::int[],
          ${tokens(closingUsage, (u) => u.totalTokens)}::int[], ${closing.map((x) => x.payload)}::text[], ${now()}
        )
      ), released as (
        select organization, sum(amount) as total from closed where status = 'released' group by organization
      ), req as (
        select r.*, case when r.status = 'released' then 0 else r.amount end as owes from unnest(
          ${items.map((_, i) => i)}::int[], ${items.map((x) => x.request.requestId)}::text[], ${items.map((x) => x.organization)}::text[],
          ${items.map((x) => x.request.projectId)}::bigint[], ${items.map((x) => x.request.apiKeyId)}::bigint[],
          ${items.map((x) => x.request.wallet.toLowerCase())}::text[], ${items.map((x) => x.request.modelId)}::int[],
          ${items.map((x) => x.request.modelAmount.toString())}::numeric[], ${items.map((x) => x.amount.toString())}::numeric[],
          ${items.map((x) => x.at.toISOString())}::timestamptz[], ${items.map((x) => x.status)}::text[],
          ${tokens(itemUsage, (u) => u.promptTokens)}::int[], ${tokens(itemUsage, (u) => u.completionTokens)}::int[],
          ${tokens(itemUsage, (u) => u.totalTokens)}::int[], ${items.map((x) => x.payload)}::text[]
        ) as r(i, request_id, organization, project_id, api_key_id, wallet, model_id, model_amount, amount, at, status, prompt_tokens, completion_tokens, total_tokens, payload)
      ), account as (
        -- What each organization owes once this statement's releases are given back.
        select a.organization, a.owed - coalesce(released.total, 0) as owed, coalesce(o.balance, 0) as balance
        from app.billing_accounts a
        left join chain.organizations o on o.chain_id = a.chain_id and o.address = a.organization
        left join released on released.organization = a.organization
        where a.chain_id = ${chain.chainId} and a.organization in (select organization from req)
        for update of a
      ), accepted as (
        -- A released line owes nothing and always goes in; the others while they fit.
        select * from (
          select req.*, account.owed + sum(req.owes) over (partition by req.organization order by req.i) as owed_after, account.balance
          from req join account using (organization)
        ) running
        where owes = 0 or owed_after <= balance
      ), owed as (
        -- One change per account (a row cannot be updated twice in one statement): owed minus released.
        update app.billing_accounts a set owed = a.owed + s.delta
        from (
          select organization, sum(delta) as delta
          from (select organization, owes as delta from accepted union all select organization, -total from released) d
          group by organization
        ) s
        where a.chain_id = ${chain.chainId} and a.organization = s.organization
      ), line as (
        insert into app.usage_ledger (request_id, chain_id, organization, project_id, api_key_id, wallet, model_id, model_amount, amount, status,
          prompt_tokens, completion_tokens, total_tokens, created_at, updated_at)
        select request_id, ${chain.chainId}, organization, project_id, api_key_id, wallet, model_id, model_amount, amount, status,
          prompt_tokens, completion_tokens, total_tokens, at, case when status = 'reserved' then at else ${now()} end
        from accepted order by i
        returning id, request_id
      ), products as (
        insert into app.usage_line_products (ledger_id, product, amount)
        select line.id, p.product, p.amount
        from line join unnest(${products.map((p) => p.requestId)}::text[], ${products.map((p) => p.product)}::text[], ${products.map((p) => p.amount)}::numeric[])
          as p(request_id, product, amount) using (request_id)
      )
      select line.request_id, line.id::text, null as room, case when req.payload is not null then pg_notify(${ORG_EVENTS_CHANNEL}, req.payload)::text end as notified
      from line join req using (request_id)
      union all
      select null, id::text, null, pg_notify(${ORG_EVENTS_CHANNEL}, payload)::text from closed
      union all
      -- Each organization's room once this statement commits, for reservations in memory.
      select account.organization, null, (account.balance - account.owed - coalesce(sum(accepted.owes), 0))::text, null
      from account left join accepted using (organization) group by account.organization, account.balance, account.owed`.execute(q)
    const reserved = new Map<string, string>()
    const closed = new Set<string>()
    const at = Date.now()
    for (const row of rows) {
      if (row.room !== null) noteRoom(row.request_id!, BigInt(row.room), at)
      else if (row.request_id === null) closed.add(row.id!)
      else reserved.set(row.request_id, row.id!)
    }
    return { reserved, closed }
  }

  function noteRoom(organization: string, room: bigint, at: number): void {
    const known = rooms.get(organization)
    if (known) Object.assign(known, { room, at })
    else rooms.set(organization, { room, at, held: 0n })
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
    let written: Awaited<ReturnType<typeof writeLines>> | undefined
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
        return closed.has(op.close.reservation.id!)
      }
      const id = batched.has(op.reserve) ? written?.reserved.get(op.reserve.request.requestId) : undefined
      return id ?? reserveWithin(db, op.reserve)
    }))
  }
  // Reservations and closings share one queue: under load a statement carries both, so a call
  // costs about one round trip and one commit instead of two.
  const writeGrouped = createGroupCommit({ write: writeBatch })

  /** Reserved in memory if the organization has ample room (see the header), else undefined. */
  function reserveInMemory(item: Reservable): Reservation | undefined {
    const { request, organization, amount } = item
    const known = rooms.get(organization)
    if (!request.answerAwaitsCharge || request.monthlyLimit !== null || !known || Date.now() - known.at > ROOM_FRESH_MS) return undefined
    if (known.room - known.held - amount < HEADROOM_CALLS * amount) return undefined
    known.held += amount
    const reservation: Reservation = { id: null, requestId: request.requestId, amount, organization, projectId: request.projectId, modelId: request.modelId }
    inMemory.set(reservation, item)
    return reservation
  }

  async function reserve(request: ChargeRequest): Promise<Reservation> {
    const organization = request.organization.toLowerCase()
    const amount = request.products.reduce((sum, p) => sum + p.amount, request.modelAmount)
    const item: Reservable = { request, organization, amount, at: now(), status: 'reserved', usage: null, payload: null }
    try {
      const reservation = reserveInMemory(item) ?? {
        id: request.monthlyLimit !== null && request.apiKeyId !== null
          ? await reserveUnderLimit(item, request.monthlyLimit, request.apiKeyId)
          : ((await writeGrouped({ reserve: item })) as string),
        requestId: request.requestId, amount, organization, projectId: request.projectId, modelId: request.modelId,
      }
      metrics.reservations.inc({ outcome: 'reserved' })
      return reservation
    } catch (error) {
      if (error instanceof InsufficientQuotaError) {
        metrics.reservations.inc({ outcome: error.reason === 'balance' ? 'insufficient_balance' : 'monthly_limit' })
        throw error
      }
      if (isUniqueViolation(error)) throw new DuplicateRequestError(request.requestId)
      throw error
    }
  }

  /** Writes the whole line of a call reserved in memory; a charge is checked against the balance like a reservation. */
  async function writeInMemory(reservation: Reservation, item: Reservable, closing: Pick<Closing, 'status' | 'usage' | 'payload'>): Promise<void> {
    inMemory.delete(reservation)
    try {
      await writeGrouped({ reserve: { ...item, ...closing } })
    } catch (error) {
      if (error instanceof InsufficientQuotaError) {
        logger.warn({ organization: item.organization, requestId: item.request.requestId, amount: item.amount.toString() }, 'a call reserved in memory was refused at its charge: the room went to another process meanwhile')
      }
      if (isUniqueViolation(error)) throw new DuplicateRequestError(item.request.requestId)
      throw error
    } finally {
      // Its amount is in `owed` now (or never was): the room the statement reported includes it.
      rooms.get(item.organization)!.held -= item.amount
    }
  }

  async function close(reservation: Reservation, status: 'charged' | 'released', usage: Usage | null): Promise<void> {
    const payload = usageEventPayload({
      chainId: chain.chainId, organization: reservation.organization, requestId: reservation.requestId, projectId: reservation.projectId,
      modelId: reservation.modelId, amount: reservation.amount.toString(), status,
      tokens: status === 'charged' && usage ? { prompt: usage.promptTokens, completion: usage.completionTokens, total: usage.totalTokens } : null,
    })
    const item = inMemory.get(reservation)
    if (item) {
      await writeInMemory(reservation, item, { status, usage, payload })
      metrics.settledCalls.inc({ outcome: status })
      return
    }
    if (await writeGrouped({ close: { reservation, status, usage, payload } })) {
      metrics.settledCalls.inc({ outcome: status })
      return
    }
    const line = await db.selectFrom('app.usage_ledger').select('status').where('id', '=', reservation.id!).executeTakeFirst()
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
