/**
 * Relays an upstream SSE stream to the client in OpenAI's wire format: every chunk as
 * `data: <json>\n\n` with our model name, the usage-only chunk only when the client asked
 * (`stream_options.include_usage`, with `usage.total_cost` added), then `data: [DONE]\n\n`. A
 * failure after the first byte is one `data: {"error": …}` event, then the end. The headers
 * (200, text/event-stream) go out once the upstream answered 2xx, so earlier failures keep their
 * real status; once they are out, the gateway's request timeout leaves the stream alone.
 */
import type { Context } from 'koa'
import { SSE_DONE, sseData } from './sse.js'
import { UpstreamError, isUsageOnlyChunk, type ChatCompletionChunk, type UpstreamStream, type Usage } from './providers/index.js'

export interface RelayOutcome {
  /** How the stream ended. */
  end: 'done' | 'error' | 'client_gone'
  /** Whether any content (text, tool call, refusal…) reached the client. */
  produced: boolean
  usage: Usage | null
}

export interface RelayOptions {
  modelName: string
  /** Base units, as a decimal string: added to the usage the client sees. */
  totalCost: string
  /** Aborted when the client goes away. */
  signal: AbortSignal
  /** Settles the call before the last event goes out (charge or release). */
  settle(outcome: RelayOutcome): Promise<void>
}

const CONTENT_FIELDS = ['content', 'tool_calls', 'function_call', 'refusal', 'reasoning', 'reasoning_content', 'audio'] as const

function carriesContent(chunk: ChatCompletionChunk): boolean {
  return chunk.choices.some((choice) => {
    const delta = choice.delta
    if (typeof delta !== 'object' || delta === null) return false
    return CONTENT_FIELDS.some((field) => {
      const value = (delta as Record<string, unknown>)[field]
      return typeof value === 'string' ? value.length > 0 : Array.isArray(value) ? value.length > 0 : value !== null && value !== undefined
    })
  })
}

/** Starts the SSE answer: status and headers go out now (Koa is told not to respond). */
export function openEventStream(c: Context): void {
  c.status = 200
  c.set('Content-Type', 'text/event-stream; charset=utf-8')
  c.set('Cache-Control', 'no-cache, no-transform')
  c.set('Connection', 'keep-alive')
  c.set('X-Accel-Buffering', 'no')
  c.respond = false
  c.res.flushHeaders()
}

function writer(c: Context) {
  const res = c.res
  return async (text: string): Promise<void> => {
    if (res.destroyed || res.writableEnded) return
    if (res.write(text)) return
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done)
        res.off('close', done)
        resolve()
      }
      res.once('drain', done)
      res.once('close', done)
    })
  }
}

export async function relayStream(c: Context, upstream: UpstreamStream, options: RelayOptions): Promise<RelayOutcome> {
  const write = writer(c)
  let produced = false
  let usageSent = false
  let last: ChatCompletionChunk | undefined
  const withCost = (usage: Usage) => ({ ...usage, total_cost: options.totalCost })
  let outcome: RelayOutcome
  let failure: unknown
  try {
    for await (const chunk of upstream) {
      if (options.signal.aborted) break
      chunk.model = options.modelName
      if (isUsageOnlyChunk(chunk)) {
        if (!upstream.clientAskedUsage) continue
        chunk.usage = withCost(chunk.usage as Usage)
        usageSent = true
      } else {
        last = chunk
        if (carriesContent(chunk)) produced = true
      }
      await write(sseData(chunk))
    }
    outcome = { end: options.signal.aborted ? 'client_gone' : 'done', produced, usage: upstream.usage }
  } catch (err) {
    failure = err
    outcome = { end: options.signal.aborted ? 'client_gone' : 'error', produced, usage: upstream.usage }
  }
  // Completion tokens counted by the upstream also mean something was produced.
  if ((outcome.usage?.completion_tokens ?? 0) > 0 && outcome.end !== 'done') outcome.produced = true

  await options.settle(outcome)

  if (outcome.end === 'done') {
    // Providers that report usage elsewhere (x_groq, choices[].usage) send no usage-only chunk.
    if (upstream.clientAskedUsage && !usageSent && outcome.usage) {
      await write(sseData({ id: last?.id, object: 'chat.completion.chunk', created: last?.created, model: options.modelName, choices: [], usage: withCost(outcome.usage) }))
    }
    await write(SSE_DONE)
  } else if (outcome.end === 'error') {
    const error = failure instanceof UpstreamError
      ? failure.body.error
      : { message: 'the gateway failed while relaying the answer', type: 'server_error', param: null, code: 'internal' }
    await write(sseData({ error }))
  }
  if (!c.res.writableEnded && !c.res.destroyed) c.res.end()
  if (outcome.end === 'error' && !(failure instanceof UpstreamError)) {
    c.state.logger.error({ err: failure }, 'relaying an upstream stream failed')
  }
  return outcome
}
