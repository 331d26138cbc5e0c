/**
 * Relays an upstream stream to the client: every chunk with our model name, the usage chunk only
 * when the client asked (`stream_options.include_usage`, with `usage.total_cost` added), then the
 * end. A failure after the first byte is one `{"error": …}` event, then the end. Where the events
 * go is the sink's business: SSE over HTTP (`httpEventSink`), notifications over the WebSocket.
 */
import type { Context } from 'koa'
import { SSE_DONE, sseData } from './sse.js'
import { ToolCallAssembler } from './chat/tool-loop.js'
import { UpstreamError, isUsageOnlyChunk, type ChatCompletionChunk, type UpstreamStream, type Usage } from './providers/index.js'

export interface RelayOutcome {
  /** How the stream ended. */
  end: 'done' | 'error' | 'client_gone'
  /** Whether any content (text, tool call, refusal…) reached the client. */
  produced: boolean
  usage: Usage | null
  /** The first choice's answer, assembled from its deltas (what conversation memory keeps). */
  message: { role: 'assistant'; content: string | null; tool_calls?: unknown[] }
}

/** Where a streamed answer goes. */
export interface EventSink {
  /** The answer starts (HTTP: status 200 and the event-stream headers, with these extra headers). */
  open(headers: Readonly<Record<string, string>>): void
  /** One event: a chunk, or `{error}`. Resolves when the transport can take more. */
  send(event: unknown): Promise<void>
  /** The end marker (`data: [DONE]`), after a complete answer only. */
  done(): Promise<void>
  close(): void
}

export interface RelayOptions {
  modelName: string
  /** Base units, as a decimal string: added to the usage the client sees. */
  totalCost: string
  /** Aborted when the client goes away. */
  signal: AbortSignal
  /** Settles the call before the last event goes out (charge or release). */
  settle(outcome: RelayOutcome): Promise<void>
  logger: { error(obj: object, msg: string): void }
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

/** Server-sent events on a Koa response; Koa is told not to respond itself. */
export function httpEventSink(c: Context): EventSink {
  const res = c.res
  const write = async (text: string): Promise<void> => {
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
  return {
    open(headers) {
      c.status = 200
      c.set('Content-Type', 'text/event-stream; charset=utf-8')
      c.set('Cache-Control', 'no-cache, no-transform')
      c.set('Connection', 'keep-alive')
      c.set('X-Accel-Buffering', 'no')
      for (const [name, value] of Object.entries(headers)) c.set(name, value)
      c.respond = false
      res.flushHeaders()
    },
    send: (event) => write(sseData(event)),
    done: () => write(SSE_DONE),
    close() {
      if (!res.writableEnded && !res.destroyed) res.end()
    },
  }
}

export async function relayStream(sink: EventSink, upstream: UpstreamStream, options: RelayOptions): Promise<RelayOutcome> {
  let produced = false
  let usageSent = false
  let last: ChatCompletionChunk | undefined
  let content = ''
  const calls = new ToolCallAssembler()
  const withCost = (usage: Usage) => ({ ...usage, total_cost: options.totalCost })
  let end: RelayOutcome['end']
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
        const delta = chunk.choices.find((choice) => (choice.index ?? 0) === 0)?.delta as Record<string, unknown> | undefined
        if (typeof delta?.content === 'string') content += delta.content
        calls.add(delta?.tool_calls)
      }
      await sink.send(chunk)
    }
    end = options.signal.aborted ? 'client_gone' : 'done'
  } catch (err) {
    failure = err
    end = options.signal.aborted ? 'client_gone' : 'error'
  }
  const toolCalls = calls.list
  const outcome: RelayOutcome = {
    end, produced, usage: upstream.usage,
    message: { role: 'assistant', content: content || null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
  }
  // Completion tokens counted by the upstream also mean something was produced.
  if ((outcome.usage?.completion_tokens ?? 0) > 0 && outcome.end !== 'done') outcome.produced = true

  await options.settle(outcome)

  if (outcome.end === 'done') {
    // Providers that report usage elsewhere (x_groq, choices[].usage) send no usage-only chunk.
    if (upstream.clientAskedUsage && !usageSent && outcome.usage) {
      await sink.send({ id: last?.id, object: 'chat.completion.chunk', created: last?.created, model: options.modelName, choices: [], usage: withCost(outcome.usage) })
    }
    await sink.done()
  } else if (outcome.end === 'error') {
    const error = failure instanceof UpstreamError
      ? failure.body.error
      : { message: 'the gateway failed while relaying the answer', type: 'server_error', param: null, code: 'internal' }
    await sink.send({ error })
  }
  sink.close()
  if (outcome.end === 'error' && !(failure instanceof UpstreamError)) {
    options.logger.error({ err: failure }, 'relaying an upstream stream failed')
  }
  return outcome
}
