/**
 * A raw JSON-RPC client over HTTP (http-post.ts), for the indexer's hot path: single and batch
 * requests, a byte cap read from the stream, and the HTTP status and headers at hand to classify
 * failures.
 *
 * - range-too-large (the provider's eth_getLogs limits, HTTP 413, a response over
 *   `maxResponseBytes`): thrown at once as `RpcRangeTooLargeError`; the caller shrinks the range.
 * - retryable (timeouts, network errors, 429, 5xx, lagging nodes, rate limits): retried with
 *   exponential backoff and full jitter, capped at `maxDelayMs`, waiting at least what a
 *   Retry-After header asks for (up to `maxDelayMs`). Forever by default.
 * - fatal (unknown method, invalid params, revert, other 4xx): thrown at once as `RpcRequestError`.
 *
 * Metrics: `indexer_rpc_requests_total{method, outcome}` counts JSON-RPC calls per attempt, with
 * outcome `ok`, `retry`, `range_too_large` or `error`. A batch counts once per call in it, under
 * each call's own method (a batch of 50 `eth_getBlockByNumber` that succeeds adds 50 to
 * `{method="eth_getBlockByNumber", outcome="ok"}`), so the figures mean the same with or without
 * batching. Aborted calls are not counted.
 */
import { isAscii } from 'node:buffer'
import { Counter, type Registry } from 'prom-client'
import type { Logger } from 'pino'
import { createHttpPoster, type HttpAnswer } from './http-post.js'
import { classifyRpcError, RpcRangeTooLargeError, RpcRequestError, type RpcErrorClassification, type RpcFailure } from './rpc-errors.js'

export { classifyRpcError, RpcRangeTooLargeError, RpcRequestError, type RpcErrorClassification } from './rpc-errors.js'

export interface RpcClientOptions {
  url: string
  /** Per attempt, from sending the request to the last byte of the response; default 15 s. */
  timeoutMs?: number
  /** Attempts per call for retryable failures; default Infinity (retry until aborted). */
  maxAttempts?: number
  /** Backoff base; attempt n waits a random time in [0, min(maxDelayMs, baseDelayMs·2^(n-1))]. Default 250 ms. */
  baseDelayMs?: number
  /** Longest wait between attempts, Retry-After included; default 30 s. */
  maxDelayMs?: number
  /** Largest response body read; beyond it the call throws RpcRangeTooLargeError. Default 32 MiB. */
  maxResponseBytes?: number
  metrics?: Registry
  logger?: Logger
  /** Aborts waits and requests; calls then reject with the signal's reason. */
  signal?: AbortSignal
  /** Least time between two "RPC unreachable" warnings; default 60 s. */
  warnIntervalMs?: number
}

export interface RpcCall {
  method: string
  params: unknown[]
}

export interface RpcHealth {
  /** False after 3 consecutive failed attempts, until the next success. */
  healthy: boolean
  consecutiveFailures: number
  /** Epoch milliseconds of the last attempt the RPC answered. */
  lastSuccessAt?: number
  lastError?: string
}

export interface RpcCallOptions {
  /** Aborts this call only (the client's own signal still applies). */
  signal?: AbortSignal
}

export interface RpcClient {
  request<T>(method: string, params: unknown[], options?: RpcCallOptions): Promise<T>
  /** One HTTP POST with a JSON-RPC batch; results in call order. */
  batch<T = unknown>(calls: RpcCall[], options?: RpcCallOptions): Promise<T[]>
  health(): RpcHealth
}

export const rpcRequestsMetricName = 'indexer_rpc_requests_total'
const unhealthyAfter = 3
/** How much of an error response body is read to find its message. */
const errorBodyBytes = 64 * 1024

type Outcome = 'ok' | 'retry' | 'range_too_large' | 'error'

interface JsonRpcResponse {
  id?: unknown
  result?: unknown
  error?: { code?: unknown; message?: unknown; data?: unknown }
}

/** One attempt's failure, classified. */
interface AttemptFailure extends RpcFailure {
  classification: RpcErrorClassification
  /** The response's declared size over our byte cap, when it passed the cap (see RpcRangeTooLargeError). */
  overCap?: number
}

class ResponseTooLarge extends Error {
  /** Declared size / cap, when the response said its size. */
  constructor(message: string, readonly overCap?: number) {
    super(message)
  }
}

/**
 * The URL with credentials hidden: userinfo, the query string, and path segments that look
 * like API keys (long runs of letters and digits, as in `/v2/<key>` or `/<token>/`).
 */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.username || parsed.password) {
      parsed.username = '***'
      parsed.password = ''
    }
    if (parsed.search) parsed.search = '?***'
    parsed.pathname = parsed.pathname
      .split('/')
      .map((segment) => (/^[A-Za-z0-9_-]{16,}$/.test(segment) && /\d/.test(segment) ? '***' : segment))
      .join('/')
    return parsed.toString()
  } catch {
    return '(invalid url)'
  }
}

function rpcCounter(registry: Registry | undefined): Counter<'method' | 'outcome'> {
  const existing = registry?.getSingleMetric(rpcRequestsMetricName)
  if (existing) return existing as Counter<'method' | 'outcome'>
  return new Counter({
    name: rpcRequestsMetricName,
    help: 'JSON-RPC calls by method and outcome (ok, retry, range_too_large, error); a batch counts each call',
    labelNames: ['method', 'outcome'] as const,
    registers: registry ? [registry] : [],
  })
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError')
}

/** The client's and one call's abort signals, seen as one. */
interface CallAbort {
  /** Set once the client or the call was aborted. */
  aborted(): { reason: unknown } | undefined
  /** Runs `fn` on abort; returns the function that unsubscribes it. */
  watch(fn: () => void): () => void
}

/** Resolves after `ms`, or rejects with the abort reason. */
function sleep(ms: number, abort: CallAbort): Promise<void> {
  return new Promise((resolve, reject) => {
    const already = abort.aborted()
    if (already) return reject(already.reason)
    const timer = setTimeout(() => {
      unwatch()
      resolve()
    }, ms)
    const unwatch = abort.watch(() => {
      clearTimeout(timer)
      unwatch()
      reject(abort.aborted()?.reason)
    })
  })
}

/** Reads a body up to `limit` bytes; throws ResponseTooLarge past it (and stops reading). */
async function readBody(answer: HttpAnswer, limit: number): Promise<Buffer> {
  const declared = Number(answer.header('content-length'))
  if (Number.isFinite(declared) && declared > limit) {
    answer.discard()
    throw new ResponseTooLarge(`response too large: ${declared} bytes, over the ${limit}-byte cap`, declared / limit)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of answer.body as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) {
      answer.discard()
      throw new ResponseTooLarge(`response too large: more than the ${limit}-byte cap`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, size)
}

/**
 * The body as text. An ASCII body, which is every eth_getLogs answer (hex and keywords), is copied
 * as it is: decoding a million logs' answers as UTF-8 took 0.6 s of the indexer's CPU, this 0.2 s.
 */
function decodeBody(raw: Buffer): string {
  return isAscii(raw) ? raw.toString('latin1') : raw.toString('utf8')
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = (err as { cause?: unknown }).cause
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    return `${err.message}: ${typeof code === 'string' && !cause.message.includes(code) ? `${code} ` : ''}${cause.message}`
  }
  return err.message
}

function rpcErrorFailure(error: NonNullable<JsonRpcResponse['error']>, httpStatus?: number, retryAfterHeader?: string | null): RpcFailure {
  const data = typeof error.data === 'string' && !/^0x[0-9a-f]*$/i.test(error.data) ? ` (${error.data})` : ''
  const failure: RpcFailure = { message: `${typeof error.message === 'string' ? error.message : 'JSON-RPC error'}${data}`, retryAfterHeader }
  if (typeof error.code === 'number') failure.rpcCode = error.code
  if (httpStatus !== undefined) failure.httpStatus = httpStatus
  return failure
}

function classified(failure: RpcFailure): AttemptFailure {
  return { ...failure, classification: classifyRpcError(failure) }
}

/** The worst of several item failures: fatal, then range-too-large, then retryable. */
function worst(failures: AttemptFailure[]): AttemptFailure {
  const rank = { fatal: 0, 'range-too-large': 1, retryable: 2 } as const
  return failures.reduce((a, b) => (rank[b.classification.kind] < rank[a.classification.kind] ? b : a))
}

/** Credentials in the URL (`user:pass@`) travel as a Basic Authorization header. */
function splitCredentials(url: string): { url: string; headers: Record<string, string> } {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError(`invalid RPC URL: ${maskUrl(url)}`)
  }
  if (!parsed.username && !parsed.password) return { url, headers: {} }
  const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`
  parsed.username = ''
  parsed.password = ''
  return { url: parsed.toString(), headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` } }
}

export function createRpcClient(options: RpcClientOptions): RpcClient {
  const maskedUrl = maskUrl(options.url)
  const { url, headers: authHeaders } = splitCredentials(options.url)
  const poster = createHttpPoster(url)
  const timeoutMs = options.timeoutMs ?? 15_000
  const maxAttempts = options.maxAttempts ?? Infinity
  const baseDelayMs = options.baseDelayMs ?? 250
  const maxDelayMs = options.maxDelayMs ?? 30_000
  const maxResponseBytes = options.maxResponseBytes ?? 32 * 1024 * 1024
  const warnIntervalMs = options.warnIntervalMs ?? 60_000
  const logger = options.logger
  const counter = rpcCounter(options.metrics)

  let nextId = 1
  let consecutiveFailures = 0
  let lastSuccessAt: number | undefined
  let lastError: string | undefined
  let lastWarnAt = -Infinity
  let warnedSinceSuccess = false

  const hideUrl = (text: string) => {
    for (const secret of [options.url, url]) if (text.includes(secret)) text = text.split(secret).join(maskedUrl)
    return text
  }

  const count = (methods: string[], outcome: Outcome) => {
    if (methods.length === 1) return counter.inc({ method: methods[0]!, outcome })
    const tally = new Map<string, number>()
    for (const method of methods) tally.set(method, (tally.get(method) ?? 0) + 1)
    for (const [method, n] of tally) counter.inc({ method, outcome }, n)
  }

  const answered = () => {
    if (warnedSinceSuccess) logger?.info({ url: maskedUrl, failedAttempts: consecutiveFailures }, 'RPC reachable again')
    warnedSinceSuccess = false
    consecutiveFailures = 0
    lastSuccessAt = Date.now()
  }

  const failed = (label: string, failure: AttemptFailure, attempt: number, delayMs: number) => {
    consecutiveFailures += 1
    lastError = hideUrl(failure.message)
    const now = Date.now()
    const fields = { url: maskedUrl, method: label, attempt, consecutiveFailures, retryInMs: Math.round(delayMs), err: lastError }
    if (consecutiveFailures >= unhealthyAfter && now - lastWarnAt >= warnIntervalMs) {
      lastWarnAt = now
      warnedSinceSuccess = true
      logger?.warn(fields, `RPC unreachable, retrying: ${lastError}`)
    } else {
      logger?.debug(fields, 'RPC attempt failed, retrying')
    }
  }

  // One listener on the client's signal for all calls (a listener per call in flight would
  // trip Node's max-listeners warning under load).
  const clientWatchers = new Set<() => void>()
  options.signal?.addEventListener('abort', () => [...clientWatchers].forEach((fn) => fn()), { once: true })
  const callAbort = (signal: AbortSignal | undefined): CallAbort => ({
    aborted() {
      for (const s of [options.signal, signal]) if (s?.aborted) return { reason: abortReason(s) }
      return undefined
    },
    watch(fn) {
      clientWatchers.add(fn)
      signal?.addEventListener('abort', fn, { once: true })
      return () => {
        clientWatchers.delete(fn)
        signal?.removeEventListener('abort', fn)
      }
    },
  })

  /** One HTTP attempt: the parsed JSON body, or a classified failure. */
  const attemptOnce = async (body: string, abort: CallAbort): Promise<{ json: unknown } | AttemptFailure> => {
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort(new Error(`timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    const unwatch = abort.watch(() => controller.abort())
    try {
      let response: HttpAnswer
      try {
        response = await poster.post(body, authHeaders, controller.signal)
      } catch (err) {
        const aborted = abort.aborted()
        if (aborted) throw aborted.reason
        if (timedOut) return classified({ message: `no response within ${timeoutMs} ms`, timedOut: true })
        return classified({ message: describe(err), networkError: true })
      }

      const retryAfterHeader = response.header('retry-after') ?? null
      const httpStatus = response.status
      if (httpStatus < 200 || httpStatus > 299) {
        let text = ''
        try {
          text = (await readBody(response, errorBodyBytes)).toString('utf8')
        } catch {
          // Cut off, over 64 KiB or unreadable: classify by the status alone.
          const aborted = abort.aborted()
          if (aborted) throw aborted.reason
        }
        let failure: RpcFailure = { httpStatus, message: `HTTP ${httpStatus} ${response.statusText}`.trim(), retryAfterHeader }
        try {
          const parsed = JSON.parse(text) as JsonRpcResponse | JsonRpcResponse[]
          const item = Array.isArray(parsed) ? parsed.find((p) => p?.error) : parsed
          if (item?.error) failure = rpcErrorFailure(item.error, httpStatus, retryAfterHeader)
        } catch {
          const snippet = text.trim().slice(0, 200)
          if (snippet) failure.message = `${failure.message}: ${snippet}`
        }
        return classified(failure)
      }

      let raw: Buffer
      try {
        raw = await readBody(response, maxResponseBytes)
      } catch (err) {
        const aborted = abort.aborted()
        if (aborted) throw aborted.reason
        if (err instanceof ResponseTooLarge) return { ...classified({ httpStatus, message: err.message }), ...(err.overCap ? { overCap: err.overCap } : {}) }
        if (timedOut) return classified({ message: `response not complete within ${timeoutMs} ms`, timedOut: true })
        return classified({ message: describe(err), networkError: true })
      }
      try {
        return { json: JSON.parse(decodeBody(raw)) as unknown }
      } catch {
        // A truncated or garbled body: the connection or a proxy broke; try again.
        return classified({ httpStatus, message: `invalid JSON in response (${raw.length} bytes)`, networkError: true })
      }
    } finally {
      clearTimeout(timer)
      unwatch()
    }
  }

  /**
   * Sends `payload` until `extract` returns values or a non-retryable failure. `methods` are
   * the calls' methods, for the metrics and error messages.
   */
  const send = async <R>(
    payload: unknown,
    methods: string[],
    extract: (json: unknown) => { value: R } | AttemptFailure,
    callOptions: RpcCallOptions | undefined,
  ): Promise<R> => {
    const abort = callAbort(callOptions?.signal)
    const label = methods.length === 1 ? methods[0]! : `batch of ${methods.length} (${[...new Set(methods)].join(', ')})`
    const body = JSON.stringify(payload)
    for (let attempt = 1; ; attempt++) {
      const aborted = abort.aborted()
      if (aborted) throw aborted.reason

      const outcome = await attemptOnce(body, abort)
      const result = 'json' in outcome ? extract(outcome.json) : outcome
      if ('value' in result) {
        answered()
        count(methods, 'ok')
        return result.value
      }

      const { kind, retryAfterMs, suggestedRange, blockLimit } = result.classification
      const detail = hideUrl(result.message)
      if (kind === 'range-too-large') {
        answered()
        count(methods, 'range_too_large')
        throw new RpcRangeTooLargeError({
          method: label,
          detail,
          ...(suggestedRange ? { suggestedRange } : {}),
          ...(blockLimit !== undefined ? { blockLimit } : {}),
          ...(result.overCap !== undefined ? { overCap: result.overCap } : {}),
          ...(result.rpcCode !== undefined ? { rpcCode: result.rpcCode } : {}),
          ...(result.httpStatus !== undefined ? { httpStatus: result.httpStatus } : {}),
        })
      }
      const errorFields = {
        method: label,
        detail,
        attempts: attempt,
        ...(result.rpcCode !== undefined ? { rpcCode: result.rpcCode } : {}),
        ...(result.httpStatus !== undefined ? { httpStatus: result.httpStatus } : {}),
      }
      if (kind === 'fatal') {
        // A JSON-RPC error answer means the endpoint is up; an HTTP refusal (401, 404...) does not.
        if (result.rpcCode !== undefined && (result.httpStatus === undefined || result.httpStatus < 400)) answered()
        else {
          consecutiveFailures += 1
          lastError = detail
        }
        count(methods, 'error')
        throw new RpcRequestError({ ...errorFields, retryable: false })
      }
      if (attempt >= maxAttempts) {
        consecutiveFailures += 1
        lastError = detail
        count(methods, 'error')
        throw new RpcRequestError({ ...errorFields, retryable: true })
      }
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 30))
      const delayMs = Math.min(maxDelayMs, Math.max(retryAfterMs ?? 0, Math.random() * ceiling))
      count(methods, 'retry')
      failed(label, result, attempt, delayMs)
      await sleep(delayMs, abort)
    }
  }

  const itemFailure = (item: JsonRpcResponse): AttemptFailure | undefined => {
    if (item.error) return classified(rpcErrorFailure(item.error))
    if (!('result' in item)) return classified({ message: 'JSON-RPC response without result or error', networkError: true })
    return undefined
  }

  const notAnObject = (json: unknown): AttemptFailure | undefined =>
    typeof json === 'object' && json !== null ? undefined : classified({ message: 'JSON-RPC response is not an object', networkError: true })

  return {
    request<T>(method: string, params: unknown[], callOptions?: RpcCallOptions): Promise<T> {
      const id = nextId++
      return send<T>(
        { jsonrpc: '2.0', id, method, params },
        [method],
        (json) => {
          const bad = notAnObject(json)
          if (bad) return bad
          const item = (Array.isArray(json) ? json[0] : json) as JsonRpcResponse | undefined
          if (typeof item !== 'object' || item === null) return classified({ message: 'empty JSON-RPC response', networkError: true })
          return itemFailure(item) ?? { value: item.result as T }
        },
        callOptions,
      )
    },

    async batch<T = unknown>(calls: RpcCall[], callOptions?: RpcCallOptions): Promise<T[]> {
      if (calls.length === 0) return []
      const firstId = nextId
      nextId += calls.length
      const payload = calls.map((call, i) => ({ jsonrpc: '2.0', id: firstId + i, method: call.method, params: call.params }))
      return send<T[]>(
        payload,
        calls.map((c) => c.method),
        (json) => {
          const bad = notAnObject(json)
          if (bad) return bad
          // A whole-batch refusal (rate limit, batch too large) comes back as one error object.
          if (!Array.isArray(json)) {
            const single = json as JsonRpcResponse
            return itemFailure(single) ?? classified({ message: 'the RPC answered a batch with a single result: it may not support batches' })
          }
          const byIndex = new Array<JsonRpcResponse | undefined>(calls.length)
          for (const item of json as JsonRpcResponse[]) {
            const index = typeof item?.id === 'number' ? item.id - firstId : Number(item?.id) - firstId
            if (Number.isInteger(index) && index >= 0 && index < calls.length) byIndex[index] = item
          }
          const failures: AttemptFailure[] = []
          const results = new Array<T>(calls.length)
          for (let i = 0; i < calls.length; i++) {
            const item = byIndex[i]
            if (!item) {
              failures.push(classified({ message: `batch response is missing the answer to call ${i} (${calls[i]!.method})`, networkError: true }))
              continue
            }
            const failure = itemFailure(item)
            if (failure) failures.push(failure)
            else results[i] = item.result as T
          }
          return failures.length > 0 ? worst(failures) : { value: results }
        },
        callOptions,
      )
    },

    health(): RpcHealth {
      return {
        healthy: consecutiveFailures < unhealthyAfter,
        consecutiveFailures,
        ...(lastSuccessAt !== undefined ? { lastSuccessAt } : {}),
        ...(lastError !== undefined ? { lastError } : {}),
      }
    },
  }
}
