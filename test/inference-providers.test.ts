import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { HaitheConfig } from '../src/config/index.js'
import {
  ProviderConfigError,
  UpstreamError,
  isUsageOnlyChunk,
  normalizeErrorBody,
  parseRetryAfter,
  readUsage,
  resolveProvider,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type UpstreamStream,
} from '../src/write/inference/providers/index.js'
import { SSE_DONE, SseParser, sseComment, sseData, type SseEvent } from '../src/write/inference/sse.js'
import { DEFAULT_CONTENT, startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js'
import { rejectionOf } from './support/rejection.js'

const KEY = 'sk-test-secret-0123456789'
let upstream: FakeUpstream

type Providers = HaitheConfig['providers']
const none = { apiKey: null, baseUrl: null }
const configWith = (providers: Partial<Providers>): Pick<HaitheConfig, 'providers'> => ({
  providers: { google: none, groq: none, openai: none, deepseek: none, moonshot: none, custom: none, ...providers },
})
const client = (name: keyof Providers = 'openai', timeoutMs?: number) =>
  resolveProvider(configWith({ [name]: { apiKey: KEY, baseUrl: upstream.url } }), name, timeoutMs ? { timeoutMs } : {}).client

const hello: ChatCompletionRequest = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] }

async function collect(stream: UpstreamStream): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return chunks
}

beforeAll(async () => {
  upstream = await startFakeUpstream()
})
afterAll(async () => {
  await upstream.close()
})
beforeEach(() => {
  upstream.requests.length = 0
})

describe('parameters pass through', () => {
  it('sends the client body untouched except the model, with the key as a Bearer token', async () => {
    const request: ChatCompletionRequest = {
      ...hello,
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 50,
      max_completion_tokens: 60,
      n: 2,
      stop: ['\n\n', 'END'],
      seed: 42,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      user: 'user-7',
      logit_bias: { '50256': -100 },
      a_provider_extension: { nested: [1, 2, 3] },
    }
    upstream.enqueue({ kind: 'answer', toolArguments: { city: 'Paris' } })
    const { body, usage } = await client().complete(request)

    const sent = upstream.requests[0]!
    expect(sent.path).toBe('/v1/chat/completions')
    expect(sent.headers.authorization).toBe(`Bearer ${KEY}`)
    expect(sent.body).toEqual({ ...request, model: 'gpt-4o-mini' })
    expect(body.choices).toHaveLength(2)
    expect(body.choices[0]).toMatchObject({ finish_reason: 'tool_calls', message: { tool_calls: [{ function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } })
    expect(usage).toMatchObject({ completion_tokens: 2 })
    expect(usage!.total_tokens).toBe(usage!.prompt_tokens + 2)
  })

  it('a caller-mapped model id wins, and stream options are not sent on a JSON call', async () => {
    await client().complete({ ...hello, stream: false, stream_options: { include_usage: true } }, { model: 'gpt-4o-2024-08-06' })
    expect(upstream.requests[0]!.body).toEqual({ model: 'gpt-4o-2024-08-06', messages: hello.messages })
  })
})

describe('streaming', () => {
  it('always asks the upstream for usage and says the client did not', async () => {
    const stream = await client('groq').stream({ model: 'groq/llama-3.1-8b-instant', messages: hello.messages, temperature: 0 })
    const chunks = await collect(stream)

    expect(upstream.requests[0]!.body).toEqual({
      model: 'llama-3.1-8b-instant',
      messages: hello.messages,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    })
    expect(upstream.requests[0]!.headers.accept).toBe('text/event-stream')
    expect(stream.clientAskedUsage).toBe(false)
    expect(chunks[0]!.choices[0]).toMatchObject({ delta: { role: 'assistant' } })
    const text = chunks.map((c) => (c.choices[0]?.delta as { content?: string } | undefined)?.content ?? '').join('')
    expect(text).toBe(DEFAULT_CONTENT)
    expect(chunks.at(-2)!.choices[0]).toMatchObject({ finish_reason: 'stop' })
    // The last chunk is the usage-only one the caller strips for this client.
    expect(isUsageOnlyChunk(chunks.at(-1)!)).toBe(true)
    expect(chunks.filter(isUsageOnlyChunk)).toHaveLength(1)
    expect(stream.usage).toEqual(chunks.at(-1)!.usage)
    expect(stream.usage!.completion_tokens).toBeGreaterThan(0)
  })

  it('keeps the client stream_options and says it asked for usage', async () => {
    const stream = await client().stream({ ...hello, stream: true, stream_options: { include_usage: true, continuous_usage_stats: false } })
    await collect(stream)
    expect(upstream.requests[0]!.body.stream_options).toEqual({ include_usage: true, continuous_usage_stats: false })
    expect(stream.clientAskedUsage).toBe(true)
  })

  it('streams tool calls', async () => {
    upstream.enqueue({ kind: 'answer', toolArguments: { q: 'x' } })
    const tools = [{ type: 'function', function: { name: 'search', parameters: { type: 'object' } } }]
    const chunks = await collect(await client().stream({ ...hello, tools, tool_choice: 'required' }))
    expect(upstream.requests[0]!.body).toMatchObject({ tools, tool_choice: 'required' })
    const args = chunks.flatMap((c) => ((c.choices[0]?.delta as { tool_calls?: Array<{ function: { arguments: string } }> })?.tool_calls ?? []).map((t) => t.function.arguments))
    expect(args.join('')).toBe('{"q":"x"}')
    expect(chunks.some((c) => c.choices[0]?.finish_reason === 'tool_calls')).toBe(true)
  })
})

// A stream as providers send it: CRLF and CR line ends, comments, an `event:` field, a JSON
// value split over two data lines, multi-byte UTF-8, and no blank line before the close.
const recorded =
  ': OPENROUTER PROCESSING\r\n\r\n' +
  'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\r\n\r\n' +
  'data: {"choices":[{"index":0,\ndata: "delta":{"content":"héllo wörld 🌍"}}]}\n\n' +
  'id: 7\revent: message\rdata: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\r\r' +
  'retry: 1000\n' +
  'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}\n\n' +
  'data: [DONE]'

describe('SSE parser', () => {
  const bytes = new TextEncoder().encode(recorded)
  const whole = (() => {
    const parser = new SseParser()
    return [...parser.feed(bytes), ...parser.end()]
  })()

  it('parses the recorded stream', () => {
    expect(whole.map((e) => e.data)).toEqual([
      '{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}',
      '{"choices":[{"index":0,\n"delta":{"content":"héllo wörld 🌍"}}]}',
      '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
      '{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}',
      '[DONE]',
    ])
    expect(whole[2]).toMatchObject({ event: 'message', id: '7' })
  })

  it('gives the same events when fed one byte at a time', () => {
    const parser = new SseParser()
    const events: SseEvent[] = []
    for (let i = 0; i < bytes.length; i++) events.push(...parser.feed(bytes.subarray(i, i + 1)))
    events.push(...parser.end())
    expect(events).toEqual(whole)
  })

  it('gives the same events when cut at any byte', () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const parser = new SseParser()
      const events = [...parser.feed(bytes.subarray(0, cut)), ...parser.feed(bytes.subarray(cut)), ...parser.end()]
      expect(events).toEqual(whole)
    }
  })

  it('reads what the writer writes', () => {
    const parser = new SseParser()
    const value = { text: 'line one\nline two', emoji: '🌍' }
    expect(parser.feed(sseComment() + sseData(value) + SSE_DONE).map((e) => e.data)).toEqual([JSON.stringify(value), '[DONE]'])
  })

  it('the client reads a recorded stream sent verbatim', async () => {
    upstream.enqueue({ kind: 'raw', body: recorded })
    const stream = await client().stream(hello)
    const chunks = await collect(stream)
    expect(chunks).toHaveLength(4)
    expect(stream.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 })
  })
})

describe('usage', () => {
  it('is read from usage, x_groq.usage and choices[].usage', () => {
    const u = { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 }
    expect(readUsage({ choices: [], usage: { ...u, prompt_tokens_details: { cached_tokens: 2 } } })).toEqual({ ...u, prompt_tokens_details: { cached_tokens: 2 } })
    expect(readUsage({ choices: [{ delta: {} }], x_groq: { id: 'x', usage: u } })).toEqual(u)
    expect(readUsage({ choices: [{ delta: {}, usage: u }] })).toEqual(u)
    expect(readUsage({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } })).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 })
    expect(readUsage({ choices: [], usage: null })).toBeNull()
  })

  it('from Groq JSON answers and Moonshot streams through the client', async () => {
    upstream.enqueue({ kind: 'answer', usageAt: 'x_groq' }, { kind: 'answer', usageAt: 'choices' })
    const { usage } = await client('groq').complete(hello)
    expect(usage?.completion_tokens).toBeGreaterThan(0)
    const stream = await client('moonshot').stream(hello)
    const chunks = await collect(stream)
    expect(chunks.some(isUsageOnlyChunk)).toBe(false)
    expect(stream.usage?.completion_tokens).toBe(usage?.completion_tokens)
  })
})

describe('upstream errors', () => {
  it('keeps the status and OpenAI body of a 400', async () => {
    const body = { error: { message: "Invalid value for 'n'", type: 'invalid_request_error', param: 'n', code: 'invalid_value' } }
    upstream.enqueue({ kind: 'error', status: 400, body })
    const err = await rejectionOf(client().complete({ ...hello, n: 99 }))
    expect(err).toBeInstanceOf(UpstreamError)
    expect(err).toMatchObject({ status: 400, body, retryAfter: null, provider: 'openai' })
  })

  it('redacts the key a 401 message echoes', async () => {
    upstream.enqueue({ kind: 'error', status: 401, body: { error: { message: `Incorrect API key provided: ${KEY}.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } })
    const err = (await rejectionOf(client().complete(hello))) as UpstreamError
    expect(err.status).toBe(401)
    expect(err.body.error.code).toBe('invalid_api_key')
    expect(JSON.stringify(err.body) + err.message).not.toContain(KEY)
  })

  it('gives a 429 its retry-after, before a stream starts', async () => {
    upstream.enqueue({ kind: 'error', status: 429, headers: { 'retry-after': '7' } })
    const err = (await rejectionOf(client().stream(hello))) as UpstreamError
    expect(err).toMatchObject({ status: 429, retryAfter: 7, midStream: false })
    expect(err.body.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' })
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30)
    expect(parseRetryAfter('0.5', now)).toBe(1)
    expect(parseRetryAfter('soon', now)).toBeNull()
  })

  it('normalises Gemini, Ollama, vLLM and plain-text error shapes', async () => {
    upstream.enqueue(
      { kind: 'error', status: 400, body: [{ error: { code: 400, message: 'API key not valid.', status: 'INVALID_ARGUMENT' } }] },
      { kind: 'error', status: 500, body: 'upstream exploded' },
    )
    expect(((await rejectionOf(client('google').complete(hello))) as UpstreamError).body).toEqual({
      error: { message: 'API key not valid.', type: 'invalid_argument', param: null, code: '400' },
    })
    expect(((await rejectionOf(client().complete(hello))) as UpstreamError).body).toEqual({
      error: { message: 'upstream exploded', type: 'api_error', param: null, code: null },
    })
    expect(normalizeErrorBody(404, { error: 'model "llama9" not found' })).toEqual({
      error: { message: 'model "llama9" not found', type: 'invalid_request_error', param: null, code: null },
    })
    expect(normalizeErrorBody(400, { object: 'error', message: 'too long', type: 'BadRequestError', param: null, code: 400 }).error).toMatchObject({ message: 'too long', type: 'BadRequestError', code: '400' })
    expect(normalizeErrorBody(422, { detail: [{ msg: 'field required' }] }).error.message).toContain('field required')
  })

  it('turns an unreachable upstream into a 502', async () => {
    const gone = await startFakeUpstream()
    await gone.close()
    const config = configWith({ deepseek: { apiKey: KEY, baseUrl: gone.url } })
    const err = (await rejectionOf(resolveProvider(config, 'deepseek').client.complete(hello))) as UpstreamError
    expect(err).toBeInstanceOf(UpstreamError)
    expect(err.status).toBe(502)
    expect(err.body.error.code).toBe('upstream_unreachable')
    expect(err.message).not.toContain(KEY)
  })

  it('turns a stalled stream into a 504', async () => {
    upstream.enqueue({ kind: 'answer', chunkDelayMs: 5_000 })
    const stream = await client('openai', 50).stream(hello)
    const err = (await rejectionOf(collect(stream))) as UpstreamError
    expect(err).toBeInstanceOf(UpstreamError)
    expect(err.status).toBe(504)
    expect(err.body.error.code).toBe('upstream_timeout')
    await upstream.requests[0]!.whenAborted
  })

  it('surfaces a mid-stream error event from the iterator', async () => {
    upstream.enqueue({ kind: 'midStreamError', afterChunks: 2, error: { message: 'The model is overloaded', type: 'server_error', param: null, code: null } })
    const stream = await client().stream(hello)
    const chunks: ChatCompletionChunk[] = []
    const err = (await rejectionOf((async () => {
      for await (const chunk of stream) chunks.push(chunk)
    })())) as UpstreamError
    expect(chunks).toHaveLength(3)
    expect(err).toBeInstanceOf(UpstreamError)
    expect(err).toMatchObject({ status: 502, midStream: true })
    expect(err.body.error).toEqual({ message: 'The model is overloaded', type: 'server_error', param: null, code: null })
  })

  it('calls a stream cut before its finish_reason an error', async () => {
    upstream.enqueue({ kind: 'raw', body: 'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n' })
    const err = (await rejectionOf(collect(await client().stream(hello)))) as UpstreamError
    expect(err).toMatchObject({ status: 502, midStream: true })
  })
})

describe('cancellation', () => {
  it('aborting the signal cancels the upstream request', async () => {
    upstream.enqueue({ kind: 'answer', content: 'one two three four five six', chunkDelayMs: 200 })
    const controller = new AbortController()
    const stream = await client().stream(hello, { signal: controller.signal })
    const err = await rejectionOf((async () => {
      for await (const _chunk of stream) controller.abort()
    })())
    expect((err as Error).name).toBe('AbortError')
    await upstream.requests[0]!.whenAborted
    expect(upstream.requests[0]!.aborted).toBe(true)
  })

  it('a consumer that stops reading releases the upstream request', async () => {
    upstream.enqueue({ kind: 'answer', content: 'one two three four five six', chunkDelayMs: 200 })
    const stream = await client().stream(hello)
    for await (const _chunk of stream) break
    await upstream.requests[0]!.whenAborted
    expect(upstream.requests[0]!.aborted).toBe(true)
  })

  it('an already aborted signal sends nothing', async () => {
    const err = await rejectionOf(client().complete(hello, { signal: AbortSignal.abort() }))
    expect((err as Error).name).toBe('AbortError')
    expect(upstream.requests).toHaveLength(0)
  })
})

describe('resolveProvider', () => {
  it('names the environment variable of a missing key', () => {
    const err = (() => {
      try {
        resolveProvider(configWith({ google: { apiKey: null, baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai' } }), 'google')
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(ProviderConfigError)
    expect(err).toMatchObject({ provider: 'google', code: 'provider_not_configured' })
    expect((err as Error).message).toContain('GEMINI_API_KEY')
  })

  it('names CUSTOM_LLM_BASE_URL for a custom provider without a base URL, and refuses unknown names', () => {
    expect(() => resolveProvider(configWith({}), 'custom')).toThrow(/CUSTOM_LLM_BASE_URL/)
    expect(() => resolveProvider(configWith({}), 'anthropic')).toThrow(ProviderConfigError)
    expect(() => resolveProvider(configWith({}), 'toString')).toThrow(/unknown provider/)
  })

  it('a custom server needs no key and gets no Authorization header', async () => {
    const { client: custom } = resolveProvider(configWith({ custom: { apiKey: null, baseUrl: `${upstream.url}/` } }), 'custom')
    await custom.complete({ model: 'llama3.2', messages: hello.messages })
    expect(upstream.requests[0]!.headers.authorization).toBeUndefined()
    expect(upstream.requests[0]!.body.model).toBe('llama3.2')
  })
})
