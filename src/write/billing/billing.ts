/**
 * Billing of inference calls: reserve before, charge the exact amount (or release) after, so
 * concurrent calls can never spend more than an organization has (budgets checked after the
 * fact leak under concurrency). Lines live in app.usage_ledger.
 */
import type { Address } from 'viem'

export interface ChargeRequest {
  /** The request id (X-Request-Id): one line per request; a repeat is refused. */
  requestId: string
  organization: Address
  projectId: string
  /** The API key used (wallet or scoped key), if any. */
  apiKeyId: string | null
  /** A scoped key's monthly limit (tUSDT base units), enforced like the balance. */
  monthlyLimit: bigint | null
  wallet: Address
  modelId: number
  /** The model's price per call. */
  modelAmount: bigint
  /** Each used product's price per call (to its creator). */
  products: readonly { product: Address; amount: bigint }[]
}

export interface Reservation {
  /** app.usage_ledger.id */
  id: string
  requestId: string
  /** modelAmount + Σ products. */
  amount: bigint
  /** What the line's events carry (lowercased address). */
  organization: string
  projectId: string
  modelId: number
}

export interface Usage {
  promptTokens: number
  completionTokens: number
  totalTokens: number
}

/** 402 insufficient_quota: the balance (or the key's monthly limit) does not cover the call. */
export class InsufficientQuotaError extends Error {
  override readonly name = 'InsufficientQuotaError'
  constructor(
    message: string,
    readonly reason: 'balance' | 'monthly_limit',
    readonly needed: bigint,
    readonly available: bigint,
  ) {
    super(message)
  }
}

export interface Billing {
  /**
   * Reserves the call's price atomically against the organization's available balance (indexed
   * on-chain balance − unsettled charges − open reservations) and the key's monthly limit;
   * throws InsufficientQuotaError when it does not fit.
   */
  reserve(request: ChargeRequest): Promise<Reservation>
  /** The call produced an answer: the reservation becomes the charge, with its token usage. */
  charge(reservation: Reservation, usage: Usage | null): Promise<void>
  /** The call failed (or produced nothing): nothing is charged. */
  release(reservation: Reservation): Promise<void>
}

/** reserve() was called twice with one request id: the second call is refused (a line per request). */
export class DuplicateRequestError extends Error {
  override readonly name = 'DuplicateRequestError'
  constructor(readonly requestId: string) {
    super(`request ${requestId} already has a usage line`)
  }
}
