/**
 * A local OpenAI-compatible upstream on 127.0.0.1:<random> that speaks the full wire format:
 * JSON completions with usage; SSE with a role chunk, content chunks, a finish_reason chunk, a
 * usage-only chunk when `stream_options.include_usage` is true, then `data: [DONE]`; tool_calls
 * when the request offers tools. Behaviours (errors, 429s, mid-stream errors, slow or verbatim
 * streams) are queued per request. Every request is recorded, with whether its client went away.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: Record<string, unknown>
  /** True once the client closed the connection before the answer was complete. */
  aborted: boolean
  /** Resolves when the client goes away early (never, when the answer completes). */
  whenAborted: Promise<void>
}

export type Behaviour =
  | {
      kind: 'answer'
      /** The assistant's text; streamed one word per chunk. */
      content?: string
      /** Milliseconds between stream chunks. */
      chunkDelayMs?: number
      /** Where the usage goes: OpenAI's `usage`, Groq's `x_groq.usage`, Moonshot's `choices[0].usage`. */
      usageAt?: 'usage' | 'x_groq' | 'choices'
      /** Calls a tool, when the request offers tools: with these arguments. */
      toolArguments?: Record<string, unknown>
      /** The offered tool to call (default: the first). */
      toolName?: string
    }
  | { kind: 'error'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Streams `afterChunks` content chunks, then `data: {"error": …}`. */
  | { kind: 'midStreamError'; afterChunks: number; error: unknown }
  /** Writes this exact body (status 200), for recorded streams and odd providers. */
  | { kind: 'raw'; body: string; contentType?: string }

export interface FakeUpstream {
  /** Base URL, like `http://127.0.0.1:1234/v1`. */
  url: string
  requests: RecordedRequest[]
  /** TCP connections accepted so far (a client that keeps its connections alive opens few). */
  readonly connections: number
  /** Queues behaviours for the next requests; afterwards requests get a normal answer. */
  enqueue(...behaviours: Behaviour[]): void
  close(): Promise<void>
}

export const DEFAULT_CONTENT = 'Hello from the fake upstream.'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const requests: RecordedRequest[] = []
  const queue: Behaviour[] = []
  let counter = 0

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy())
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = []
    for await (const part of req) parts.push(part as Buffer)
    const text = Buffer.concat(parts).toString('utf8')
    let body: Record<string, unknown> = {}
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {}
    } catch {
      body = { unparsable: text }
    }
    let markAborted = () => {}
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body,
      aborted: false,
      whenAborted: new Promise<void>((resolve) => (markAborted = resolve)),
    }
    requests.push(record)
    res.on('close', () => {
      if (!res.writableFinished) {
        record.aborted = true
        markAborted()
      }
    })

    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      return json(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error', param: null, code: 'not_found' } })
    }
    const behaviour = queue.shift() ?? { kind: 'answer' }
    if (behaviour.kind === 'error') {
      res.writeHead(behaviour.status, { 'content-type': 'application/json', ...behaviour.headers })
      res.end(typeof behaviour.body === 'string' ? behaviour.body : JSON.stringify(behaviour.body ?? openAIError(behaviour.status)))
      return
    }
    if (behaviour.kind === 'raw') {
      res.writeHead(200, { 'content-type': behaviour.contentType ?? 'text/event-stream' })
      res.end(behaviour.body)
      return
    }
    const id = `chatcmpl-fake-${++counter}`
    const answer = behaviour.kind === 'answer' ? behaviour : { kind: 'answer' as const }
    const plan = planAnswer(body, answer)
    if (body.stream !== true) {
      if (behaviour.kind === 'midStreamError') return json(res, 500, openAIError(500))
      return json(res, 200, completion(id, body, plan, answer.usageAt ?? 'usage'))
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
    const send = (value: unknown) => res.write(`data: ${JSON.stringify(value)}\n\n`)
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
      id,
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: body.model,
      choices,
      ...extra,
    })
    const choices = (delta: Record<string, unknown>, finish: string | null) =>
      Array.from({ length: plan.n }, (_, index) => ({ index, delta, logprobs: null, finish_reason: finish }))

    send(chunk(choices({ role: 'assistant', content: '' }, null)))
    let sent = 0
    for (const piece of plan.stream) {
      if (behaviour.kind === 'midStreamError' && sent === behaviour.afterChunks) {
        send({ error: behaviour.error })
        res.end()
        return
      }
      if (answer.chunkDelayMs) await sleep(answer.chunkDelayMs)
      if (res.destroyed) return
      send(chunk(choices(piece, null)))
      sent++
    }
    const usage = plan.usage
    const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true
    const where = answer.usageAt ?? 'usage'
    if (where === 'x_groq') send(chunk(choices({}, plan.finish), { x_groq: { id, usage } }))
    else if (where === 'choices') send(chunk(choices({}, plan.finish).map((c) => ({ ...c, usage }))))
    else {
      send(chunk(choices({}, plan.finish)))
      if (includeUsage) send(chunk([], { usage }))
    }
    res.end('data: [DONE]\n\n')
  }

  let connections = 0
  server.on('connection', () => void connections++)

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get connections() {
      return connections
    },
    enqueue: (...behaviours) => void queue.push(...behaviours),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

interface Plan {
  n: number
  message: Record<string, unknown>
  stream: Array<Record<string, unknown>>
  finish: string
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }
}

/**
 * The answer to a request: text split into words, or one tool call when the behaviour asks for
 * one (toolName / toolArguments), tools are offered and the conversation does not end with a
 * tool's result (a model answers once it has it).
 */
function planAnswer(body: Record<string, unknown>, answer: { content?: string; toolArguments?: Record<string, unknown>; toolName?: string }): Plan {
  const n = typeof body.n === 'number' ? body.n : 1
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ role?: string }>) : []
  const prompt = JSON.stringify(messages).split(/\s+/).length
  const tools = Array.isArray(body.tools) ? (body.tools as Array<{ function?: { name?: string } }>) : []
  const asked = answer.toolName !== undefined || answer.toolArguments !== undefined
  if (asked && tools.length > 0 && body.tool_choice !== 'none' && messages.at(-1)?.role !== 'tool') {
    const name = answer.toolName ?? tools[0]?.function?.name ?? 'tool'
    const args = JSON.stringify(answer.toolArguments ?? {})
    const call = { id: 'call_fake_1', type: 'function', function: { name, arguments: args } }
    return {
      n,
      message: { role: 'assistant', content: null, tool_calls: [call] },
      stream: [
        { tool_calls: [{ index: 0, ...call, function: { name, arguments: '' } }] },
        { tool_calls: [{ index: 0, function: { arguments: args } }] },
      ],
      finish: 'tool_calls',
      usage: { prompt_tokens: prompt, completion_tokens: 2, total_tokens: prompt + 2 },
    }
  }
  const content = answer.content ?? DEFAULT_CONTENT
  const words = content.split(/(?<= )/)
  return {
    n,
    message: { role: 'assistant', content, refusal: null },
    stream: words.map((w) => ({ content: w })),
    finish: 'stop',
    usage: { prompt_tokens: prompt, completion_tokens: words.length, total_tokens: prompt + words.length },
  }
}

function completion(id: string, body: Record<string, unknown>, plan: Plan, usageAt: 'usage' | 'x_groq' | 'choices'): Record<string, unknown> {
  const choices = Array.from({ length: plan.n }, (_, index) => ({ index, message: plan.message, logprobs: null, finish_reason: plan.finish }))
  const base = { id, object: 'chat.completion', created: 1_700_000_000, model: body.model, system_fingerprint: 'fp_fake' }
  if (usageAt === 'x_groq') return { ...base, choices, x_groq: { id, usage: plan.usage } }
  if (usageAt === 'choices') return { ...base, choices: choices.map((c) => ({ ...c, usage: plan.usage })) }
  return { ...base, choices, usage: plan.usage }
}

function openAIError(status: number): unknown {
  const [type, code, message] =
    status === 401 ? ['invalid_request_error', 'invalid_api_key', 'Incorrect API key provided.']
      : status === 429 ? ['requests', 'rate_limit_exceeded', 'Rate limit reached for requests.']
        : status === 400 ? ['invalid_request_error', null, 'Invalid request.']
          : ['server_error', null, 'The server had an error while processing your request.']
  return { error: { message, type, param: null, code } }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(value))
}
