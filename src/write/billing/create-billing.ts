/**
 * Billing against app.usage_ledger. reserve() runs in one transaction that first takes a
 * transaction-scoped advisory lock per organization, so concurrent reservations of one
 * organization are serialised (on PostgreSQL across the pool, and across gateway processes; on
 * PGlite the single session serialises transactions anyway and the lock is free). Under READ
 * COMMITTED, the reads after the lock see every line committed by the previous holder.
 * A scoped key belongs to one organization, so the same lock serialises its monthly limit.
 */
import { sql, type Kysely } from 'kysely'
import { formatUnits } from 'viem'
import type { ChainConfig } from '../../config/index.js'
import type { Database } from '../../db/index.js'
import type { Logger, Registry } from '../../obs/index.js'
import { publishUsage } from '../events/index.js'
import { indexedBalance, keySpentSince, owedAmount, startOfUtcMonth } from './balance.js'
import { DuplicateRequestError, InsufficientQuotaError, type Billing, type ChargeRequest, type Reservation, type Usage } from './billing.js'
import { createBillingMetrics } from './metrics.js'

export interface BillingOptions {
  db: Kysely<Database>
  chain: ChainConfig
  logger: Logger
  metrics: Registry
  now?: () => Date
}

const TUSDT_DECIMALS = 18
const tusdt = (amount: bigint) => `${formatUnits(amount, TUSDT_DECIMALS)} tUSDT`

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505'
}

export function createBilling(options: BillingOptions): Billing {
  const { db, chain, logger } = options
  const now = options.now ?? (() => new Date())
  const metrics = createBillingMetrics(options.metrics)

  async function reserve(request: ChargeRequest): Promise<Reservation> {
    const organization = request.organization.toLowerCase()
    const amount = request.products.reduce((sum, p) => sum + p.amount, request.modelAmount)
    const at = now()
    try {
      const reservation = await db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext(${`haithe:billing:${chain.chainId}:${organization}`}))`.execute(trx)
        const [balance, owed] = [await indexedBalance(trx, chain.chainId, organization), await owedAmount(trx, chain.chainId, organization)]
        const available = balance - owed
        if (amount > available) {
          throw new InsufficientQuotaError(
            `insufficient balance: the organization has ${tusdt(balance)} on chain, owes ${tusdt(owed)} not yet settled, ` +
              `and this call needs ${tusdt(amount)}; add funds to the organization`,
            'balance', amount, available > 0n ? available : 0n,
          )
        }
        if (request.monthlyLimit !== null && request.apiKeyId !== null) {
          const spent = await keySpentSince(trx, request.apiKeyId, startOfUtcMonth(at))
          if (spent + amount > request.monthlyLimit) {
            const left = request.monthlyLimit - spent
            throw new InsufficientQuotaError(
              `monthly limit reached: this API key may spend ${tusdt(request.monthlyLimit)} a month, has used ${tusdt(spent)}, ` +
                `and this call needs ${tusdt(amount)}`,
              'monthly_limit', amount, left > 0n ? left : 0n,
            )
          }
        }
        const line = await trx
          .insertInto('app.usage_ledger')
          .values({
            request_id: request.requestId, chain_id: chain.chainId, organization, project_id: request.projectId, api_key_id: request.apiKeyId,
            wallet: request.wallet.toLowerCase(), model_id: request.modelId, model_amount: request.modelAmount.toString(), amount: amount.toString(),
            status: 'reserved', created_at: at, updated_at: at,
          })
          .returning('id')
          .executeTakeFirstOrThrow()
        if (request.products.length > 0) {
          await trx
            .insertInto('app.usage_line_products')
            .values(request.products.map((p) => ({ ledger_id: line.id, product: p.product.toLowerCase(), amount: p.amount.toString() })))
            .execute()
        }
        return { id: String(line.id), requestId: request.requestId, amount }
      })
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

  /**
   * Moves a reserved line to `status` and publishes it to the organization's subscribers (on
   * commit); a repeat (or a line already closed otherwise) changes nothing.
   */
  async function close(reservation: Reservation, status: 'charged' | 'released', usage: Usage | null): Promise<void> {
    const updated = await db.transaction().execute(async (trx) => {
      const line = await trx
        .updateTable('app.usage_ledger')
        .set({
          status,
          updated_at: now(),
          ...(status === 'charged' && usage
            ? { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.totalTokens }
            : {}),
        })
        .where('id', '=', reservation.id)
        .where('status', '=', 'reserved')
        .returning(['id', 'request_id', 'organization', 'project_id', 'model_id', 'amount', 'prompt_tokens', 'completion_tokens', 'total_tokens'])
        .executeTakeFirst()
      if (line) {
        const tokens = line.total_tokens === null ? null : { prompt: line.prompt_tokens ?? 0, completion: line.completion_tokens ?? 0, total: line.total_tokens }
        await publishUsage(trx, {
          chainId: chain.chainId, organization: line.organization, requestId: line.request_id, projectId: String(line.project_id),
          modelId: line.model_id, amount: String(line.amount), status, tokens,
        })
      }
      return line
    })
    if (updated) {
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
