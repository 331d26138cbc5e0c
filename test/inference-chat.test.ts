/**
 * The OpenAI-compatible endpoints through the official `openai` client: a funded organization
 * with a project, an enrolled Groq model and an enabled product, against a fake upstream that
 * records what it received. Prices, the ledger, streams, errors and aborts as a developer sees them.
 */
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Router from '@koa/router'
import Koa from 'koa'
import OpenAI from 'openai'
import { pino } from 'pino'
import { parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChainWalletClient } from '../src/chain/index.js'
import { createRequestId, createRequestTimeout } from '../src/api/middleware/index.js'
import type { ChatCompletionChunk, UpstreamStream } from '../src/write/inference/index.js'
import { httpEventSink, relayStream, type RelayOutcome } from '../src/write/inference/stream-relay.js'
import { createBilling } from '../src/write/billing/index.js'
import { createMetricsRegistry } from '../src/obs/index.js'
import { startFakeUpstream, DEFAULT_CONTENT, type FakeUpstream } from './support/fake-upstream.js'
import { startTestGateway, type TestGateway } from './support/gateway.js'
import { INFERENCE_MODEL as MODEL, INFERENCE_MODEL_PRICE as MODEL_PRICE, setUpInferenceOrg } from './support/inference-org.js'
import { eventually } from './support/eventually.js'

interface OrgView { id: number; organization_uid: string; address: string }
interface ProjectView { id: number; project_uid: string }

const PRODUCT_PRICE = parseEther('0.002')

describe('POST /api/v1beta/openai/chat/completions with the openai client', () => {
  let fake: FakeUpstream
  let gw: TestGateway
  let owner: ChainWalletClient
  let creator: ChainWalletClient
  let org: OrgView
  let project: ProjectView
  let walletKey: string
  let developerKey: string
  let viewerKey: string
  let baseURL: string
  let client: OpenAI

  /** The ledger line of the call answered with X-Request-Id `requestId` (the line's id starts with it). */
  const ledgerLine = (requestId: string) =>
    gw.database.db.selectFrom('app.usage_ledger').selectAll().where('request_id', 'like', `${requestId}:%`).executeTakeFirst()

  beforeAll(async () => {
    fake = await startFakeUpstream()
    gw = await startTestGateway({
      config: { providers: { groq: { apiKey: 'test-key', baseUrl: fake.url }, google: { baseUrl: fake.url } } }, // google: no key, so not configured
    })
    ;[owner, creator] = await Promise.all([gw.dev.wallet(1), gw.dev.wallet(3)])
    const ready = await setUpInferenceOrg(gw, { owner, creator }, { name: 'Inference Inc', productPrice: PRODUCT_PRICE })
    ;({ org, project } = ready)
    const ownerToken = ready.ownerToken

    walletKey = (await gw.call<{ api_key: string }>('GET', '/api/v1/me/api-key', { token: ownerToken })).body.data.api_key
    developerKey = (await gw.call<{ key: string }>('POST', `/api/v1/projects/${project.id}/keys`, { token: ownerToken, body: { role: 'developer', name: 'dev' } })).body.data.key
    viewerKey = (await gw.call<{ key: string }>('POST', `/api/v1/projects/${project.id}/keys`, { token: ownerToken, body: { role: 'viewer', name: 'view' } })).body.data.key
    expect(developerKey).toMatch(/^sk-/)
    expect(viewerKey).toMatch(/^sk-/)
    baseURL = `${gw.url}/api/v1beta/openai`
    client = new OpenAI({ apiKey: walletKey, baseURL, organization: `org-${org.organization_uid}`, project: `proj-${project.project_uid}`, maxRetries: 0 })
  }, 180_000)

  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })

  it('answers in JSON with usage.total_cost = model price + product price, charged in the ledger', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }] })
      .withResponse()
    expect(data.choices[0]!.message.content).toBe(DEFAULT_CONTENT)
    expect(data.model).toBe(MODEL)
    const usage = data.usage as OpenAI.CompletionUsage & { total_cost: string }
    expect(usage.total_cost).toBe((MODEL_PRICE + PRODUCT_PRICE).toString())
    expect(usage.completion_tokens).toBeGreaterThan(0)
    const requestId = response.headers.get('x-request-id')
    expect(requestId).toBeTruthy()
    const line = await ledgerLine(requestId!)
    expect(line).toMatchObject({ status: 'charged', model_id: 6, completion_tokens: usage.completion_tokens })
    expect(BigInt(line!.amount)).toBe(MODEL_PRICE + PRODUCT_PRICE)
    // The upstream got the provider's model id and our key, not the client's.
    const seen = fake.requests.at(-1)!
    expect(seen.body.model).toBe(MODEL)
    expect(seen.headers.authorization).toBe('Bearer test-key')
  })

  it('passes tools and every other parameter to the upstream unchanged', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'lookup', description: 'Looks up', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }]
    fake.enqueue({ kind: 'answer', toolArguments: { q: 'haithe' } })
    const params = {
      model: MODEL, messages: [{ role: 'user' as const, content: 'Find it' }], tools, tool_choice: 'auto' as const,
      temperature: 0.2, top_p: 0.9, max_completion_tokens: 64, stop: ['END'], seed: 7, user: 'u-1', n: 2,
      response_format: { type: 'text' as const },
    }
    const data = await client.chat.completions.create(params)
    expect(data.choices).toHaveLength(2)
    expect(data.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: 'lookup', arguments: '{"q":"haithe"}' } })
    const { model: _model, messages, ...rest } = params
    // The project's prompt set comes first, then the client's messages as sent.
    expect(fake.requests.at(-1)!.body).toMatchObject({ ...rest, messages: [{ role: 'system', content: 'Be kind' }, ...messages] })
  })

  it('streams with a scoped key; the usage chunk only when asked, though the upstream was always asked', async () => {
    const scoped = new OpenAI({ apiKey: developerKey, baseURL, maxRetries: 0 })
    const plain = await scoped.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: true })
    const chunks: OpenAI.ChatCompletionChunk[] = []
    for await (const chunk of plain) chunks.push(chunk)
    expect(fake.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true })
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant')
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(DEFAULT_CONTENT)
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop')
    expect(chunks.every((c) => c.choices.length > 0 && c.model === MODEL)).toBe(true)

    const { data: stream, response } = await scoped.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } })
      .withResponse()
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const requestId = response.headers.get('x-request-id')!
    const withUsage: OpenAI.ChatCompletionChunk[] = []
    for await (const chunk of stream) withUsage.push(chunk)
    const last = withUsage.at(-1)!
    expect(last.choices).toEqual([])
    expect((last.usage as OpenAI.CompletionUsage & { total_cost: string }).total_cost).toBe((MODEL_PRICE + PRODUCT_PRICE).toString())
    const line = await ledgerLine(requestId)
    expect(line).toMatchObject({ status: 'charged', completion_tokens: last.usage!.completion_tokens })
    expect(line!.api_key_id).not.toBeNull()
  })

  it('keeps the upstream connection of a finished stream for the next call', async () => {
    const before = fake.connections
    for (let i = 0; i < 5; i++) {
      const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `Hi ${i}` }], stream: true })
      let text = ''
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
      expect(text).toBe(DEFAULT_CONTENT)
    }
    // Five streams one after another. Each used to open a connection of its own; now they share one
    // or two (a second when the next call comes before the last body's end was read).
    expect(fake.connections - before).toBeLessThanOrEqual(2)
  })

  it('refuses with OpenAI error classes and statuses', async () => {
    const call = (c: OpenAI, body: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>) =>
      c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], ...body } as OpenAI.ChatCompletionCreateParamsNonStreaming)
    const unknown = await call(client, { model: 'no-such-model' }).catch((e: unknown) => e)
    expect(unknown).toBeInstanceOf(OpenAI.BadRequestError)
    expect(unknown).toMatchObject({ status: 400, code: 'model_not_found', param: 'model' })

    const inactive = await call(client, { model: 'openai/gpt-oss-120b' }).catch((e: unknown) => e)
    expect(inactive).toBeInstanceOf(OpenAI.BadRequestError)

    const notEnrolled = await call(client, { model: 'moonshotai/kimi-k2-instruct' }).catch((e: unknown) => e)
    expect(notEnrolled).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect(notEnrolled).toMatchObject({ status: 403, code: 'model_not_enrolled' })

    const tooMany = await call(client, { n: 6 }).catch((e: unknown) => e)
    expect(tooMany).toBeInstanceOf(OpenAI.BadRequestError)
    expect(tooMany).toMatchObject({ param: 'n' })

    const viewer = await call(new OpenAI({ apiKey: viewerKey, baseURL, maxRetries: 0 }), {}).catch((e: unknown) => e)
    expect(viewer).toBeInstanceOf(OpenAI.PermissionDeniedError)

    const otherProject = await call(new OpenAI({ apiKey: developerKey, baseURL, project: 'proj-00000000-0000-0000-0000-000000000000', maxRetries: 0 }), {}).catch((e: unknown) => e)
    expect(otherProject).toBeInstanceOf(OpenAI.PermissionDeniedError)

    const anonymous = await fetch(`${baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, messages: [] }) })
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('x-request-id')).toBeTruthy()
    expect(await anonymous.json()).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_api_key' } })
    const badKey = await call(new OpenAI({ apiKey: 'sk-wrong', baseURL, maxRetries: 0 }), {}).catch((e: unknown) => e)
    expect(badKey).toBeInstanceOf(OpenAI.AuthenticationError)
    // Nothing was called upstream for any of them.
    expect(fake.requests.filter((r) => r.body.messages && JSON.stringify(r.body.messages).includes('"x"'))).toHaveLength(0)
  })

  it('answers 402 insufficient_quota when a scoped key\'s monthly limit does not cover the call', async () => {
    const token = await gw.signIn(owner)
    const limited = (await gw.call<{ key: string }>('POST', `/api/v1/projects/${project.id}/keys`, { token, body: { role: 'developer', monthly_limit: '1' } })).body.data.key
    const before = fake.requests.length
    const err = await new OpenAI({ apiKey: limited, baseURL, maxRetries: 0 }).chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'pay?' }] })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.APIError)
    expect(err).toMatchObject({ status: 402, code: 'insufficient_quota', type: 'insufficient_quota' })
    expect(fake.requests.length).toBe(before)
  })

  it('answers 503 with a clear message when the model\'s provider is not configured', async () => {
    const err = await client.chat.completions.create({ model: 'gemini-2.0-flash', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.InternalServerError)
    expect(err).toMatchObject({ status: 503, code: 'provider_not_configured' })
    expect((err as Error).message).toContain('GEMINI_API_KEY')
  })

  it('relays an upstream 429 as RateLimitError with retry-after, and charges nothing', async () => {
    fake.enqueue({ kind: 'error', status: 429, headers: { 'retry-after': '7' } })
    const requestId = `rl-${Date.now()}`
    const err = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'busy?' }] }, { headers: { 'x-request-id': requestId } })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('7')
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('x-request-id')).toBe(requestId)
    expect(await ledgerLine(requestId)).toMatchObject({ status: 'released' })
  })

  it('sends a mid-stream failure as an error event; the client raises it', async () => {
    fake.enqueue({ kind: 'midStreamError', afterChunks: 2, error: { message: 'upstream fell over', type: 'server_error', code: 'boom' } })
    const requestId = `mid-${Date.now()}`
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'go' }], stream: true }, { headers: { 'x-request-id': requestId } })
    const contents: string[] = []
    const err = await (async () => {
      for await (const chunk of stream) contents.push(chunk.choices[0]?.delta.content ?? '')
    })().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.APIError)
    expect(String((err as Error).message)).toContain('upstream fell over')
    expect(contents.join('')).not.toBe('')
    // Two words reached the client: the call is charged.
    expect(await ledgerLine(requestId)).toMatchObject({ status: 'charged' })
  })

  it('releases a stream that failed before producing anything', async () => {
    fake.enqueue({ kind: 'midStreamError', afterChunks: 0, error: { message: 'no capacity', type: 'server_error', code: 'overloaded' } })
    const requestId = `mid0-${Date.now()}`
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'go' }], stream: true }, { headers: { 'x-request-id': requestId } })
    const err = await (async () => {
      for await (const _chunk of stream) void _chunk
    })().catch((e: unknown) => e)
    expect(String((err as Error).message)).toContain('no capacity')
    expect(await ledgerLine(requestId)).toMatchObject({ status: 'released' })
  })

  it('cancels the upstream when the client aborts, and charges what was produced', async () => {
    fake.enqueue({ kind: 'answer', content: Array.from({ length: 200 }, (_, i) => `w${i} `).join(''), chunkDelayMs: 20 })
    const requestId = `abort-${Date.now()}`
    const controller = new AbortController()
    const stream = await client.chat.completions.create(
      { model: MODEL, messages: [{ role: 'user', content: 'long' }], stream: true },
      { headers: { 'x-request-id': requestId }, signal: controller.signal },
    )
    const upstream = fake.requests.at(-1)!
    let received = 0
    await (async () => {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) received++
        if (received === 3) controller.abort()
      }
    })().catch(() => undefined)
    await upstream.whenAborted
    expect(upstream.aborted).toBe(true)
    const line = await eventually(() => ledgerLine(requestId), (l) => l?.status !== 'reserved', 'the aborted call settled')
    expect(line!.status).toBe('charged')
  })

  it('lists models in OpenAI format: the organization\'s enrolled ones, or every active one', async () => {
    const mine = await client.models.list()
    expect(mine.data.map((m) => m.id)).toEqual(['gemini-2.0-flash', MODEL])
    expect(mine.data[1]).toMatchObject({ object: 'model', owned_by: 'groq' })
    const all = await new OpenAI({ apiKey: walletKey, baseURL, maxRetries: 0 }).models.list()
    expect(all.data.map((m) => m.id)).toContain('moonshotai/kimi-k2-instruct')
    expect(all.data.map((m) => m.id)).not.toContain('openai/gpt-oss-120b')
    expect(await client.models.retrieve(MODEL)).toMatchObject({ id: MODEL, object: 'model', owned_by: 'groq' })
    const missing = await client.models.retrieve('moonshotai/kimi-k2-instruct').catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError)
    // A session token works like a key.
    const session = new OpenAI({ apiKey: await gw.signIn(owner), baseURL, organization: `org-${org.organization_uid}`, maxRetries: 0 })
    expect((await session.models.list()).data.map((m) => m.id)).toEqual(['gemini-2.0-flash', MODEL])
    const anonymous = await fetch(`${baseURL}/models`)
    expect(anonymous.status).toBe(401)
  })

  it('answers 402 and charges nothing when the room a JSON call was reserved in (in memory) is spent by another process before its charge', async () => {
    const address = org.address.toLowerCase()
    const price = MODEL_PRICE + PRODUCT_PRICE
    const account = await gw.w.db.selectFrom('app.billing_accounts').select('owed').where('organization', '=', address).executeTakeFirstOrThrow()
    const chainRow = await gw.w.db.selectFrom('chain.organizations').select('balance').where('address', '=', address).executeTakeFirstOrThrow()
    const model = await gw.w.db.selectFrom('app.models').select('id').where('name', '=', MODEL).executeTakeFirstOrThrow()
    const other = createBilling({ db: gw.w.db, chain: gw.chain, logger: gw.w.logger, metrics: createMetricsRegistry() })
    // A call, so the gateway has just seen the organization's ample room; then another process
    // takes all of it but one base unit, before the next call is charged.
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'warm' }] })
    const taken = await other.reserve({
      requestId: randomUUID(), organization: address as `0x${string}`, projectId: String(project.id), apiKeyId: null, monthlyLimit: null,
      wallet: owner.account.address, modelId: model.id, modelAmount: BigInt(chainRow.balance) - BigInt(account.owed) - price - 1n, products: [],
    })
    try {
      const asked = fake.requests.length
      const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'too late' }] }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(OpenAI.APIError)
      expect(err).toMatchObject({ status: 402, code: 'insufficient_quota' })
      // The provider answered (the call was reserved in memory), but the answer was not given, nor charged.
      expect(fake.requests.length).toBe(asked + 1)
      expect(await ledgerLine((err as InstanceType<typeof OpenAI.APIError>).headers!.get('x-request-id')!)).toBeUndefined()
      const owed = await gw.w.db.selectFrom('app.billing_accounts').select('owed').where('organization', '=', address).executeTakeFirstOrThrow()
      expect(BigInt(owed.owed)).toBe(BigInt(chainRow.balance) - 1n)
    } finally {
      await other.release(taken)
    }
  })
})

describe('a stream longer than the gateway\'s request timeout', () => {
  it('is relayed to the end: once the headers are out, the timeout leaves it alone', async () => {
    const logger = pino({ level: 'silent' })
    const words = Array.from({ length: 12 }, (_, i) => `w${i} `)
    let settled: RelayOutcome | undefined
    const upstream: UpstreamStream = {
      usage: { prompt_tokens: 1, completion_tokens: words.length, total_tokens: words.length + 1 },
      clientAskedUsage: false,
      async *[Symbol.asyncIterator](): AsyncGenerator<ChatCompletionChunk> {
        for (const [i, word] of words.entries()) {
          await new Promise((r) => setTimeout(r, 25))
          yield { id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: word }, finish_reason: i === words.length - 1 ? 'stop' : null }] }
        }
        yield { id: 'c', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 1, completion_tokens: words.length, total_tokens: words.length + 1 } }
      },
    }
    const app = new Koa()
    const router = new Router()
    router.post('/stream', async (c) => {
      const sink = httpEventSink(c)
      sink.open({})
      await relayStream(sink, upstream, { modelName: 'm', totalCost: '5', signal: c.state.signal, logger, settle: async (o) => void (settled = o) })
    })
    app.use(createRequestId({ logger })).use(createRequestTimeout({ timeoutMs: 60, logger })).use(router.routes())
    const server = createServer(app.callback())
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const { port } = server.address() as AddressInfo
      const answer = await fetch(`http://127.0.0.1:${port}/stream`, { method: 'POST' })
      expect(answer.status).toBe(200)
      expect(answer.headers.get('x-request-id')).toBeTruthy()
      const text = await answer.text()
      const events = text.split('\n\n').filter(Boolean)
      expect(events.at(-1)).toBe('data: [DONE]')
      const content = events.slice(0, -1).map((e) => (JSON.parse(e.slice('data: '.length)) as ChatCompletionChunk).choices[0]?.delta as { content: string })
      expect(content.map((d) => d.content).join('')).toBe(words.join(''))
      // The usage-only chunk was not asked for, so it is not sent.
      expect(events).toHaveLength(words.length + 1)
      expect(settled).toMatchObject({ end: 'done', produced: true })
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })
})
