/**
 * What to do about a failed JSON-RPC call: shrink the block range, retry later, or give up.
 *
 * Providers word their `eth_getLogs` limits differently (Alchemy, Infura, QuickNode, Ankr,
 * Blast, Chainstack, public nodes...), and some of them reuse the same code for range limits
 * and rate limits (-32005), so the decision is made here, in one tested place, from the HTTP
 * status, the JSON-RPC error code and the message.
 */

export type RpcErrorKind = 'range-too-large' | 'retryable' | 'fatal'

export interface RpcFailure {
  httpStatus?: number
  rpcCode?: number
  message: string
  /** The request was aborted by our own per-attempt timeout. */
  timedOut?: boolean
  /** No HTTP answer at all: connection refused or reset, DNS failure, socket closed. */
  networkError?: boolean
  retryAfterHeader?: string | null
}

export interface RpcErrorClassification {
  kind: RpcErrorKind
  /** From a Retry-After header (seconds or an HTTP date); only for retryable errors. */
  retryAfterMs?: number
  /** A block range the provider says would work (inclusive), parsed from its message. */
  suggestedRange?: { from: bigint; to: bigint }
  /**
   * The largest block span the provider's message names (e.g. "limited to a 10,000 range" → 10000).
   * Request at most this many blocks (from..from+blockLimit-1) and the limit holds whichever way
   * the provider counts.
   */
  blockLimit?: number
}

/** Messages that say an `eth_getLogs` request asked for too many blocks or too many logs. */
const rangeTooLargePatterns: RegExp[] = [
  /log response size exceeded/i, // Alchemy
  /response size (?:exceeded|should not greater than)/i, // Alchemy, 1RPC
  /response (?:is )?too (?:large|big)/i, // our byte cap, Optimism "backend response too large"
  /query returned more than [\d,]+ results/i, // geth, Infura, zkEVM
  /query exceeds max results/i, // LlamaRPC, Ankr
  /logs matched by query exceeds limit/i, // Arbitrum
  /limited to (?:a )?[\d,.]+\s*k?\s*(?:blocks? )?range/i, // QuickNode, 1RPC, Blast
  /limited to [\d,.]+\s*k?\s*blocks?/i, // BlockPI
  /block range (?:is )?too (?:wide|large|big)/i, // Ankr, Optimism, Base, Moonriver
  /range is too (?:large|wide|big)/i, // "eth_getLogs range is too large, max is 1k blocks"
  /exceeds? (?:the )?max(?:imum)? block range/i, // "exceed maximum block range: 5000", Hyperliquid
  /max(?:imum)? block range/i, // PublicNode "maximum block range: 50000"
  /ranges? over [\d,.]+\s*k?\s*blocks/i, // Blast "ranges over 10000 blocks are not supported"
  /block range limit exceeded/i, // Chainstack
  /block range (?:greater than|exceeds)/i, // Swell, Somnia
  /requested too many blocks/i, // Avalanche
  /too many (?:logs|results|blocks)/i,
  /max range: \d+/i, // Cloudflare
  /maximum allowed number of requested blocks/i, // thirdweb
  /up to a [\d,.]+\s*k?\s*block range/i, // Alchemy free tier, Aurora
  /limit the query to at most/i, // Coinbase
  /query must be smaller than size/i, // Harmony
  /blocks distance/i, // Ankr "maximum [from, to] blocks distance: 1000"
  /exceeds the range allowed for your plan/i, // Blast (paid)
  /this block range should work/i,
  /try with this block range/i,
  /retry with the range/i,
]

/** Words that turn a generic "limit exceeded" (or code -32005) into a range limit. */
const rangeWords = /\b(?:logs?|blocks?|block range|range|results|response size)\b/i

const rateLimitPatterns: RegExp[] = [
  /rate[- ]?limit/i,
  /too many requests/i,
  /exceeded .*capacity/i, // Alchemy "exceeded its compute units per second capacity"
  /request rate/i,
  /throughput/i,
  /limit exceeded/i, // Infura -32005 "limit exceeded" without range words: a rate limit
  /daily request count exceeded/i,
]

const networkPatterns: RegExp[] = [
  /ECONNRESET|ECONNREFUSED|ECONNABORTED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOTFOUND/,
  /UND_ERR_\w+/,
  /socket hang up/i,
  /fetch failed/i,
  /other side closed/i,
  /network ?error/i,
  /\btimed? ?out\b|timeout/i,
]

/** The node behind a load balancer has not seen the block yet, or hit an internal hiccup. */
const laggingNodePatterns: RegExp[] = [
  /header not found/i,
  /unknown block/i,
  /block not found/i,
  /internal error/i,
  /no backend is currently healthy/i,
]

const fatalRpcCodes = new Set([-32700, -32601, -32602, 3])

export function classifyRpcError(input: RpcFailure): RpcErrorClassification {
  const message = input.message ?? ''
  const retryable = (): RpcErrorClassification => {
    const retryAfterMs = parseRetryAfter(input.retryAfterHeader)
    return retryAfterMs === undefined ? { kind: 'retryable' } : { kind: 'retryable', retryAfterMs }
  }

  if (input.timedOut || input.networkError) return retryable()

  if (input.httpStatus === 413 || isRangeTooLargeMessage(message, input.rpcCode)) {
    const result: RpcErrorClassification = { kind: 'range-too-large' }
    const suggestedRange = parseSuggestedRange(message)
    if (suggestedRange) result.suggestedRange = suggestedRange
    const blockLimit = parseBlockLimit(message)
    if (blockLimit !== undefined) result.blockLimit = blockLimit
    return result
  }

  const status = input.httpStatus
  if (status === 429 || status === 408) return retryable()
  if (status !== undefined && status >= 400 && status < 500) return { kind: 'fatal' }
  if (input.rpcCode !== undefined && fatalRpcCodes.has(input.rpcCode)) return { kind: 'fatal' }
  if (/execution reverted|revert/i.test(message)) return { kind: 'fatal' }
  if (status !== undefined && status >= 500) return retryable()
  if (input.rpcCode === -32005 || input.rpcCode === -32603 || input.rpcCode === 429) return retryable()
  if (rateLimitPatterns.some((p) => p.test(message))) return retryable()
  if (laggingNodePatterns.some((p) => p.test(message))) return retryable()
  if (networkPatterns.some((p) => p.test(message))) return retryable()
  return { kind: 'fatal' }
}

export function isRangeTooLargeMessage(message: string, rpcCode?: number): boolean {
  if (rangeTooLargePatterns.some((p) => p.test(message))) return true
  // "limit exceeded" / -32005 only mean a range limit when they talk about logs or blocks;
  // otherwise they are rate limits (Infura uses -32005 for both).
  if ((/limit exceeded|exceeds? (?:the )?limit/i.test(message) || rpcCode === -32005) && rangeWords.test(message)) return true
  return false
}

/**
 * The block range a provider suggests: Alchemy "this block range should work: [0x1, 0x2]",
 * Infura "Try with this block range [0x1, 0x2]", "retry with the range 123-456".
 */
export function parseSuggestedRange(message: string): { from: bigint; to: bigint } | undefined {
  const bracketed = /\[\s*(0x[0-9a-f]+)\s*,\s*(0x[0-9a-f]+)\s*\]/i.exec(message)
  const dashed = /range\s+(0x[0-9a-f]+|\d+)\s*-\s*(0x[0-9a-f]+|\d+)/i.exec(message)
  const match = bracketed ?? dashed
  if (!match) return undefined
  const from = BigInt(match[1]!)
  const to = BigInt(match[2]!)
  return from <= to ? { from, to } : undefined
}

const blockLimitPatterns: RegExp[] = [
  /limited to (?:a )?([\d,.]+\s*k?)\b/i,
  /max(?:imum)? block range:?\s*([\d,.]+\s*k?)/i,
  /ranges? over ([\d,.]+\s*k?) blocks/i,
  /max is ([\d,.]+\s*k?) blocks/i,
  /max range: ([\d,.]+)/i,
  /maximum is set to ([\d,.]+)/i,
  /maximum allowed number of requested blocks is ([\d,.]+)/i,
  /up to a ([\d,.]+\s*k?) block range/i,
  /at most ([\d,.]+\s*k?) blocks/i,
  /block range (?:greater than|exceeds) ([\d,.]+\s*k?)/i,
  /\(maximum ([\d,.]+)\)/i,
  /blocks distance:?\s*([\d,.]+)/i,
  /\(\d+ > (\d+)\)/,
]

/** The maximum block span a provider's message names, if any ("10,000", "10000", "1k", "2K"). */
export function parseBlockLimit(message: string): number | undefined {
  for (const pattern of blockLimitPatterns) {
    const match = pattern.exec(message)
    if (!match) continue
    const text = match[1]!.replace(/[\s,.]/g, '')
    const thousands = /k$/i.test(text)
    const value = Number(thousands ? text.slice(0, -1) : text) * (thousands ? 1000 : 1)
    if (Number.isSafeInteger(value) && value > 0) return value
  }
  return undefined
}

/** Retry-After as milliseconds: delta-seconds ("2", "0.5") or an HTTP date. */
export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number | undefined {
  if (header === null || header === undefined) return undefined
  const value = header.trim()
  if (value === '') return undefined
  if (/^\d+(?:\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000)
  const date = Date.parse(value)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}

/**
 * The provider refused an `eth_getLogs` request (or a response passed our byte cap) because it
 * covered too many blocks or logs. Not retried: request a smaller block range (the suggested
 * range when there is one, else half) and grow it again later.
 */
export class RpcRangeTooLargeError extends Error {
  override name = 'RpcRangeTooLargeError'
  readonly method: string
  readonly suggestedRange?: { from: bigint; to: bigint }
  readonly blockLimit?: number
  /**
   * How many times over our byte cap the response said it was (its Content-Length), when that
   * was the refusal: a range about `span / overCap` blocks fits, so one retry can land under the
   * cap instead of halving again and again — each refused range costs the node a full build.
   */
  readonly overCap?: number
  readonly rpcCode?: number
  readonly httpStatus?: number

  constructor(options: {
    method: string
    detail: string
    suggestedRange?: { from: bigint; to: bigint }
    blockLimit?: number
    overCap?: number
    rpcCode?: number
    httpStatus?: number
  }) {
    const advice = options.suggestedRange
      ? `request the suggested range [${options.suggestedRange.from}, ${options.suggestedRange.to}] or a smaller one`
      : options.blockLimit !== undefined
        ? `request at most ${options.blockLimit} blocks at a time`
        : 'request a smaller block range (e.g. half) and grow it again on success'
    super(`${options.method}: the RPC refused the range as too large (${options.detail}); ${advice}`)
    this.method = options.method
    if (options.suggestedRange) this.suggestedRange = options.suggestedRange
    if (options.blockLimit !== undefined) this.blockLimit = options.blockLimit
    if (options.overCap !== undefined) this.overCap = options.overCap
    if (options.rpcCode !== undefined) this.rpcCode = options.rpcCode
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus
  }
}

/**
 * A JSON-RPC call failed. `retryable: false`: the request itself is wrong (unknown method,
 * invalid params, revert, refused credentials): fix the call or the configuration. `retryable:
 * true`: the RPC kept failing until the client gave up (maxAttempts): check the endpoint,
 * or raise maxAttempts.
 */
export class RpcRequestError extends Error {
  override name = 'RpcRequestError'
  readonly method: string
  readonly retryable: boolean
  readonly httpStatus?: number
  readonly rpcCode?: number
  readonly attempts: number

  constructor(options: { method: string; retryable: boolean; detail: string; httpStatus?: number; rpcCode?: number; attempts?: number }) {
    const attempts = options.attempts ?? 1
    const codes = [
      options.httpStatus !== undefined ? `HTTP ${options.httpStatus}` : undefined,
      options.rpcCode !== undefined ? `code ${options.rpcCode}` : undefined,
    ].filter((c) => c !== undefined)
    const where = codes.length > 0 ? ` (${codes.join(', ')})` : ''
    const advice = options.retryable
      ? `gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}; check that the RPC endpoint is reachable and not rate limiting, or raise maxAttempts`
      : 'not retryable: check the method name and parameters, or the RPC URL and its credentials'
    super(`${options.method} failed${where}: ${options.detail}; ${advice}`)
    this.method = options.method
    this.retryable = options.retryable
    this.attempts = attempts
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus
    if (options.rpcCode !== undefined) this.rpcCode = options.rpcCode
  }
}
