import type { IncomingMessage } from 'node:http'
import { SseParser } from '../sse.js'
import { UpstreamError, normalizeErrorBody, parseRetryAfter } from './errors.js'
import { headerValue, postJson, readText, type UpstreamResponse } from './post-json.js'
import { readUsage } from './usage.js'
import type { CallOptions, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage } from './types.js'

export interface ClientConfig {
  /** For messages; never the key. */
  provider: string
  baseUrl: string
  apiKey: string | null
  /** The provider's model id for the client's `model` (e.g. strips a `google/` prefix). */
  modelId: (model: string) => string
  /** Time allowed for the answer's headers and, in a stream, between two reads. */
  timeoutMs?: number
}

/** An upstream stream whose headers arrived with a 2xx; iterate it once for the chunks. */
export interface UpstreamStream extends AsyncIterable<ChatCompletionChunk> {
  /** The last usage the upstream reported; final once iteration has finished. */
  readonly usage: Usage | null
  /** Whether the client's request asked for the usage chunk; if not, the caller strips it. */
  readonly clientAskedUsage: boolean
}

const DEFAULT_TIMEOUT_MS = 60_000

/**
 * One OpenAI-compatible chat-completions client for every provider. It forwards the client's
 * body as is (an allowlist silently drops parameters such as `tools`), changing only `model`
 * and, for streams, asking for usage so that billing counts what the provider counted.
 */
export class OpenAICompatibleClient {
  private readonly url: URL
  constructor(private readonly config: ClientConfig) {
    this.url = new URL(`${config.baseUrl.replace(/\/+$/, '')}/chat/completions`)
  }

  get provider(): string {
    return this.config.provider
  }

  async complete(request: ChatCompletionRequest, options: CallOptions = {}): Promise<{ body: ChatCompletion; usage: Usage | null }> {
    // stream and stream_options belong to stream(); OpenAI refuses stream_options without stream.
    const { stream: _stream, stream_options: _streamOptions, ...rest } = request
    const body = { ...rest, model: options.model ?? this.config.modelId(request.model) }
    const deadline = new Deadline(options.signal, this.timeoutMs)
    try {
      const res = await this.post(body, deadline, 'application/json')
      let text: string
      try {
        text = await readText(res.body)
      } catch (err) {
        throw this.failure(err, deadline)
      }
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        throw this.invalid('the upstream answer is not JSON')
      }
      if (!isCompletion(parsed)) throw this.invalid('the upstream answer has no choices')
      return { body: parsed, usage: readUsage(parsed) }
    } finally {
      deadline.done()
    }
  }

  /** Resolves once the upstream answered 2xx, so the caller can still send a real status. */
  async stream(request: ChatCompletionRequest, options: CallOptions = {}): Promise<UpstreamStream> {
    const clientAskedUsage = request.stream_options?.include_usage === true
    const body = {
      ...request,
      model: options.model ?? this.config.modelId(request.model),
      stream: true,
      stream_options: { ...(request.stream_options ?? {}), include_usage: true },
    }
    const deadline = new Deadline(options.signal, this.timeoutMs)
    let res: UpstreamResponse
    try {
      res = await this.post(body, deadline, 'text/event-stream')
    } catch (err) {
      deadline.done()
      throw err
    }
    const state = { usage: null as Usage | null }
    const chunks = this.chunks(res.body, deadline, state)
    return {
      get usage() {
        return state.usage
      },
      clientAskedUsage,
      [Symbol.asyncIterator]: () => chunks,
    }
  }

  private async *chunks(body: IncomingMessage, deadline: Deadline, state: { usage: Usage | null }): AsyncGenerator<ChatCompletionChunk> {
    const reader = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>
    const parser = new SseParser()
    let ended = false
    let finished = false
    let sawDone = false
    try {
      for (;;) {
        let read: IteratorResult<Buffer>
        try {
          read = await reader.next()
        } catch (err) {
          throw this.failure(err, deadline)
        }
        deadline.arm()
        if (read.done) ended = true
        for (const event of read.done ? parser.end() : parser.feed(read.value)) {
          if (event.data === '[DONE]') {
            sawDone = true
            return
          }
          let chunk: unknown
          try {
            chunk = JSON.parse(event.data)
          } catch {
            throw this.invalid('the upstream sent an event that is not JSON', true)
          }
          if (event.event === 'error' || (isObject(chunk) && 'error' in chunk)) {
            const status = isObject(chunk) && isObject(chunk.error) ? chunk.error.code : null
            const httpStatus = typeof status === 'number' && status >= 400 && status <= 599 ? status : 502
            throw new UpstreamError(this.provider, httpStatus, normalizeErrorBody(httpStatus, chunk, this.config.apiKey), null, true)
          }
          if (!isCompletion(chunk)) throw this.invalid('the upstream sent a chunk without choices', true)
          state.usage = readUsage(chunk) ?? state.usage
          if (chunk.choices.some((c) => c.finish_reason != null)) finished = true
          yield chunk
        }
        if (ended) break
      }
      // A connection closed before any finish_reason is a cut answer, not a complete one.
      if (!finished) throw this.invalid('the upstream stream ended before the answer finished', true)
    } finally {
      deadline.done()
      // After [DONE] the body's end follows at once: read it, so the connection goes back to the
      // pool for the next call. Stopping early otherwise (the client went away, an error) cancels
      // the upstream request.
      if (sawDone && !ended) releaseAfterEnd(body, reader)
      else if (!ended) body.destroy()
    }
  }

  private get timeoutMs(): number {
    return this.config.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  private async post(body: unknown, deadline: Deadline, accept: string): Promise<UpstreamResponse> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept }
    if (this.config.apiKey) headers.authorization = `Bearer ${this.config.apiKey}`
    let res: UpstreamResponse
    try {
      res = await postJson(this.url, headers, JSON.stringify(body), deadline.signal)
    } catch (err) {
      throw this.failure(err, deadline)
    }
    if (res.status >= 200 && res.status < 300) return res
    let payload: unknown
    try {
      const text = await readText(res.body)
      try {
        payload = JSON.parse(text)
      } catch {
        payload = text.trim().slice(0, 500) || null
      }
    } catch (err) {
      throw this.failure(err, deadline)
    }
    throw new UpstreamError(this.provider, res.status, normalizeErrorBody(res.status, payload, this.config.apiKey), parseRetryAfter(headerValue(res.headers, 'retry-after')))
  }

  /** A failed request or read: the caller's own abort is passed on as is, the rest become 502/504. */
  private failure(err: unknown, deadline: Deadline): unknown {
    if (err instanceof UpstreamError) return err
    if (deadline.callerAborted) return deadline.callerReason
    if (deadline.timedOut) {
      return new UpstreamError(this.provider, 504, {
        error: { message: `${this.provider} did not answer within ${this.timeoutMs} ms`, type: 'api_error', param: null, code: 'upstream_timeout' },
      })
    }
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err
    const detail = isObject(cause) && typeof cause.code === 'string' ? cause.code : cause instanceof Error ? cause.message : 'network error'
    return new UpstreamError(this.provider, 502, {
      error: { message: `${this.provider} could not be reached (${detail})`, type: 'api_error', param: null, code: 'upstream_unreachable' },
    })
  }

  private invalid(message: string, midStream = false): UpstreamError {
    return new UpstreamError(this.provider, 502, { error: { message: `${this.provider}: ${message}`, type: 'api_error', param: null, code: 'upstream_invalid_response' } }, null, midStream)
  }
}

/**
 * The caller's signal plus an inactivity timer, as one signal for the request. The timer restarts on
 * every read, so a long stream that keeps producing is never cut.
 */
class Deadline {
  private readonly controller = new AbortController()
  private timer: ReturnType<typeof setTimeout> | undefined
  timedOut = false
  private readonly onAbort = () => this.controller.abort(this.caller?.reason)

  constructor(
    private readonly caller: AbortSignal | undefined,
    private readonly ms: number,
  ) {
    if (caller?.aborted) this.controller.abort(caller.reason)
    else caller?.addEventListener('abort', this.onAbort, { once: true })
    this.arm()
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }
  get callerAborted(): boolean {
    return this.caller?.aborted === true
  }
  get callerReason(): unknown {
    return this.caller?.reason
  }

  arm(): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timedOut = true
      this.controller.abort(new Error('upstream timeout'))
    }, this.ms)
    this.timer.unref?.()
  }

  done(): void {
    clearTimeout(this.timer)
    this.caller?.removeEventListener('abort', this.onAbort)
  }
}

/** Reads what an upstream sends after its last event; one that does not end within a second is cut. */
function releaseAfterEnd(body: IncomingMessage, reader: AsyncIterator<Buffer>): void {
  const timer = setTimeout(() => body.destroy(), 1_000)
  timer.unref?.()
  const next = (): Promise<void> => reader.next().then((read) => (read.done ? clearTimeout(timer) : next()), () => clearTimeout(timer))
  void next()
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const isCompletion = (v: unknown): v is ChatCompletion => isObject(v) && Array.isArray(v.choices)
