/**
 * Billing of inference calls: reserve before, charge the exact amount (or release) after, so
 * concurrent calls can never spend more than an organization has (budgets checked after the
 * fact leak under concurrency). Lines live in app.usage_ledger.
 *
 * A call whose answer waits for its charge may be reserved in this process's memory alone, while
 * its organization has ample room: its line is then written once, charged or released, and the
 * charge itself is the atomic check against the balance (see create-billing.ts).
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
  /**
   * The answer is sent only once charge() has returned, so a charge may still be refused
   * (InsufficientQuotaError): such a call may be reserved in memory, without a line until it ends.
   * Not so for a stream, whose tokens the client has before it is charged.
   */
  answerAwaitsCharge?: boolean
}

export interface Reservation {
  /** app.usage_ledger.id; null while the call is reserved in memory (its line is written when it ends). */
  id: string | null
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
  /**
   * The call produced an answer: the reservation becomes the charge, with its token usage. A call
   * reserved in memory is checked against the balance again here, and may be refused
   * (InsufficientQuotaError): another process spent the room meanwhile.
   */
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
