/**
 * What shapes an answer besides the request, seen from the prompt the fake upstream receives:
 * prompt sets (one of them OpenPGP-encrypted for the TEE, served over HTTP), knowledge (text and
 * CSV) searched for the question, RPC tools run by the gateway against a local HTTP server (and
 * refused for loopback, private and link-local destinations), the client's own tools left to
 * the client, web search, and conversation memory across calls and replicas.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import * as openpgp from 'openpgp'
import { parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChainWalletClient } from '../src/chain/index.js'
import { createGatewayServer, writeRoutes } from '../src/write/index.js'
import { DEFAULT_CONTENT, startFakeUpstream, type FakeUpstream, type RecordedRequest } from './support/fake-upstream.js'
import { startTestGateway, type TestGateway } from './support/gateway.js'
import { INFERENCE_MODEL as MODEL, INFERENCE_MODEL_PRICE as MODEL_PRICE, addEnabledProduct, setUpInferenceOrg, type InferenceOrg } from './support/inference-org.js'

const TEE_SECRET = 'tee-secret-for-tests-0123456789'
const PRODUCT_KEY = 'the-product-key-of-the-creator'
const PRICE = parseEther('0.001')

const REFUNDS = 'Refund policy. Refunds are issued within 14 days of purchase to the original payment method. '.repeat(12)
const WARRANTY = 'Warranty. Every device is covered for two years against manufacturing defects. '.repeat(12)
const SHIPPING = 'Shipping times. Parcels leave the warehouse every morning and arrive in three to five days. '.repeat(12)
const PLANS_CSV = 'plan,monthly price,support\nStarter,"$0, free forever",community forum\nPro,$49,priority support by phone\n'

const TOOLS = {
  tools: [
    { name: 'get_weather', description: 'Current weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, request: { url: 'CONTENT/weather/{city}' } },
    { name: 'private_net', description: 'x', request: { url: 'http://10.0.0.1/status' } },
    { name: 'metadata', description: 'x', request: { url: 'http://169.254.169.254/latest/meta-data/' } },
    { name: 'loopback', description: 'x', request: { url: 'LOOPBACK/v1/models' } },
  ],
}

const dataUri = (type: string, text: string) => `data:${type};base64,${Buffer.from(text).toString('base64')}`

describe('products, tools, search and memory shape the answer', () => {
  let fake: FakeUpstream
  let content: Server
  let contentUrl: string
  const contentRequests: string[] = []
  let gw: TestGateway
  let owner: ChainWalletClient
  let creator: ChainWalletClient
  let ready: InferenceOrg
  let client: OpenAI
  let totalPrice: bigint

  /** The upstream requests of the last call (one per round). */
  const lastCall = (since: number): RecordedRequest[] => fake.requests.slice(since)
  const systemOf = (request: RecordedRequest) => (request.body.messages as Array<{ role: string; content: string }>)[0]!

  beforeAll(async () => {
    fake = await startFakeUpstream()
    const encryptedKey = await openpgp.encrypt({ message: await openpgp.createMessage({ text: PRODUCT_KEY }), passwords: [TEE_SECRET], format: 'armored' })
    const encryptedPrompts = await openpgp.encrypt({
      message: await openpgp.createMessage({ text: JSON.stringify(['Always answer in French.', 'Sign as Haithe Bot.']) }), passwords: [PRODUCT_KEY], format: 'armored',
    })
    content = createServer((req: IncomingMessage, res) => {
      contentRequests.push(req.url ?? '')
      if (req.url === '/prompts.pgp') return void res.end(encryptedPrompts)
      if (req.url?.startsWith('/weather/')) {
        res.setHeader('content-type', 'application/json')
        return void res.end(JSON.stringify({ city: decodeURIComponent(req.url.slice('/weather/'.length)), sky: 'sunny', celsius: 21 }))
      }
      if (req.url?.startsWith('/search')) {
        res.setHeader('content-type', 'application/json')
        return void res.end(JSON.stringify({ results: [{ title: 'Haithe marketplace', url: 'https://haithe.example/', content: 'Creators sell AI products per call.' }] }))
      }
      res.statusCode = 404
      res.end()
    })
    await new Promise<void>((resolve) => content.listen(0, '127.0.0.1', resolve))
    contentUrl = `http://127.0.0.1:${(content.address() as AddressInfo).port}`

    gw = await startTestGateway({
      config: {
        providers: { groq: { apiKey: 'test-key', baseUrl: fake.url } },
        tee: { secret: TEE_SECRET },
        inference: { allowHosts: [new URL(contentUrl).host] },
        search: { provider: 'searxng', baseUrl: contentUrl },
      },
    })
    ;[owner, creator] = await Promise.all([gw.dev.wallet(1), gw.dev.wallet(3)])
    ready = await setUpInferenceOrg(gw, { owner, creator }, { name: 'Shaped Answers', productPrice: PRICE })
    const add = (name: string, category: string, uri: string, encryptedKey?: string) =>
      addEnabledProduct(gw, { owner, creator }, ready, { name, category, uri, price: PRICE, ...(encryptedKey ? { encryptedKey } : {}) })
    await add('Secret prompts', 'promptset', `${contentUrl}/prompts.pgp`, encryptedKey)
    await add('Shop handbook', 'knowledge:text', dataUri('text/plain', `${REFUNDS}\n\n${WARRANTY}\n\n${SHIPPING}`))
    await add('Price list', 'knowledge:csv', dataUri('text/csv', PLANS_CSV))
    const tools = JSON.stringify(TOOLS).replaceAll('CONTENT', contentUrl).replaceAll('LOOPBACK', fake.url.replace(/\/v1$/, ''))
    await add('Weather tools', 'tool:rpc', dataUri('application/json', tools))
    totalPrice = MODEL_PRICE + 5n * PRICE

    const key = (await gw.call<{ key: string }>('POST', `/api/v1/projects/${ready.project.id}/keys`, { token: ready.ownerToken, body: { role: 'developer', name: 'shaped' } })).body.data.key
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/api/v1beta/openai`, maxRetries: 0 })
  }, 240_000)

  afterAll(async () => {
    await gw?.close()
    await fake?.close()
    await new Promise((resolve) => content?.close(resolve))
  })

  it('puts the prompt sets (one decrypted with the TEE secret) and the matching knowledge first in the prompt', async () => {
    const since = fake.requests.length
    const answer = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'system', content: 'You are the shop assistant.' }, { role: 'user', content: 'How do refunds work?' }],
    })
    expect((answer.usage as unknown as { total_cost: string }).total_cost).toBe(totalPrice.toString())
    const [request] = lastCall(since)
    const system = systemOf(request!)
    expect(system.role).toBe('system')
    expect(system.content).toContain('Be kind')
    expect(system.content).toContain('Always answer in French.\nSign as Haithe Bot.')
    expect(system.content).toContain('Refunds are issued within 14 days')
    expect(system.content).not.toContain('Parcels leave the warehouse')
    // The client's own messages follow, unchanged.
    expect((request!.body.messages as unknown[]).slice(1)).toEqual([
      { role: 'system', content: 'You are the shop assistant.' }, { role: 'user', content: 'How do refunds work?' },
    ])
  })

  it('finds CSV rows by their content', async () => {
    const since = fake.requests.length
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Which plan has priority support?' }] })
    const system = systemOf(lastCall(since)[0]!)
    expect(system.content).toContain('plan: Pro')
    expect(system.content).toContain('support: priority support by phone')
  })

  it('runs an RPC tool against a local HTTP server and answers with its result', async () => {
    const since = fake.requests.length
    fake.enqueue({ kind: 'answer', toolName: 'get_weather', toolArguments: { city: 'Paris' } })
    const answer = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Weather in Paris?' }] })
    expect(answer.choices[0]!.message.content).toBe(DEFAULT_CONTENT)
    expect(answer.choices[0]!.message.tool_calls).toBeUndefined()
    expect(contentRequests).toContain('/weather/Paris')
    const rounds = lastCall(since)
    expect(rounds).toHaveLength(2)
    const tools = (rounds[0]!.body.tools as Array<{ function: { name: string } }>).map((t) => t.function.name)
    expect(tools).toEqual(expect.arrayContaining(['get_weather', 'private_net', 'metadata', 'loopback']))
    const messages = rounds[1]!.body.messages as Array<{ role: string; content: string | null; tool_calls?: unknown[] }>
    expect(messages.at(-2)).toMatchObject({ role: 'assistant', tool_calls: [{ function: { name: 'get_weather' } }] })
    expect(messages.at(-1)!.role).toBe('tool')
    expect(JSON.parse(messages.at(-1)!.content!)).toMatchObject({ city: 'Paris', sky: 'sunny' })
    // Two upstream rounds, one call charged once.
    expect((answer.usage as unknown as { total_cost: string }).total_cost).toBe(totalPrice.toString())
  })

  it.each([
    ['private_net', /10\.0\.0\.1.*private/],
    ['metadata', /169\.254\.169\.254.*link-local/],
    ['loopback', /127\.0\.0\.1.*loopback/],
  ])('refuses a tool request to %s', async (tool, reason) => {
    const since = fake.requests.length
    const before = fake.requests.filter((r) => r.path === '/v1/models').length
    fake.enqueue({ kind: 'answer', toolName: tool })
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Call it' }] })
    const messages = lastCall(since)[1]!.body.messages as Array<{ role: string; content: string }>
    expect(messages.at(-1)!.role).toBe('tool')
    expect(messages.at(-1)!.content).toMatch(/refused/)
    expect(messages.at(-1)!.content).toMatch(reason)
    // Nothing reached the loopback server behind the refused URL.
    expect(fake.requests.filter((r) => r.path === '/v1/models').length).toBe(before)
  })

  it('streams content while the gateway runs its tool, without showing the tool call', async () => {
    fake.enqueue({ kind: 'answer', toolName: 'get_weather', toolArguments: { city: 'Oslo' } })
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Weather in Oslo?' }], stream: true, stream_options: { include_usage: true } })
    const chunks: OpenAI.ChatCompletionChunk[] = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(DEFAULT_CONTENT)
    expect(chunks.some((c) => c.choices[0]?.delta.tool_calls)).toBe(false)
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0]!.finish_reason)).toEqual(['stop'])
    expect((chunks.at(-1)!.usage as unknown as { total_cost: string }).total_cost).toBe(totalPrice.toString())
    expect(contentRequests).toContain('/weather/Oslo')
  })

  it("gives the client's own tool calls back to the client untouched", async () => {
    const since = fake.requests.length
    fake.enqueue({ kind: 'answer', toolName: 'lookup_order', toolArguments: { order: 'A-1' } })
    const tools = [{ type: 'function' as const, function: { name: 'lookup_order', parameters: { type: 'object', properties: { order: { type: 'string' } } } } }]
    const answer = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Where is A-1?' }], tools })
    expect(answer.choices[0]!.finish_reason).toBe('tool_calls')
    expect(answer.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: 'lookup_order', arguments: '{"order":"A-1"}' } })
    expect(lastCall(since)).toHaveLength(1)
    const offered = (lastCall(since)[0]!.body.tools as Array<{ function: { name: string } }>).map((t) => t.function.name)
    expect(offered[0]).toBe('lookup_order')
    expect(offered).toContain('get_weather')
  })

  it('searches the web when the project enables it', async () => {
    const patched = await gw.call('PATCH', `/api/v1/projects/${ready.project.id}`, { token: ready.ownerToken, query: { search_enabled: true } })
    expect(patched.status).toBe(200)
    const since = fake.requests.length
    fake.enqueue({ kind: 'answer', toolName: 'web_search', toolArguments: { query: 'haithe marketplace' } })
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'What is Haithe?' }] })
    expect(contentRequests.some((url) => url.startsWith('/search?') && url.includes('haithe'))).toBe(true)
    const messages = lastCall(since)[1]!.body.messages as Array<{ role: string; content: string }>
    expect(messages.at(-1)!.content).toContain('Creators sell AI products per call.')
  })

  it('remembers a conversation across calls and replicas when the project enables memory', async () => {
    expect((await gw.call('PATCH', `/api/v1/projects/${ready.project.id}`, { token: ready.ownerToken, query: { memory_enabled: true } })).status).toBe(200)
    const headers = { 'Haithe-Conversation': 'support-thread-1' }
    fake.enqueue({ kind: 'answer', content: 'Nice to meet you, Ada.' })
    const first = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'My name is Ada.' }] }, { headers }).withResponse()
    const conversation = first.response.headers.get('haithe-conversation')
    expect(conversation).toMatch(/^[0-9a-f-]{36}$/)

    // Another gateway process on the same database: a replica.
    const replica = createGatewayServer(gw.w, { routes: writeRoutes, rateLimitPrefix: 'replica' })
    const { port } = await replica.listen('127.0.0.1', 0)
    try {
      const other = new OpenAI({ apiKey: client.apiKey, baseURL: `http://127.0.0.1:${port}/api/v1beta/openai`, maxRetries: 0 })
      const since = fake.requests.length
      const second = await other.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'What is my name?' }] }, { headers }).withResponse()
      expect(second.response.headers.get('haithe-conversation')).toBe(conversation)
      const sent = lastCall(since)[0]!.body.messages as Array<{ role: string; content: string }>
      expect(sent.slice(1)).toEqual([
        { role: 'user', content: 'My name is Ada.' },
        expect.objectContaining({ role: 'assistant', content: 'Nice to meet you, Ada.' }),
        { role: 'user', content: 'What is my name?' },
      ])
    } finally {
      await replica.close()
    }
    // The conversation is listed with its messages.
    const messages = await gw.call<Array<{ role: string }>>('GET', `/api/v1beta/chat/conversations/${conversation}/messages`, { token: client.apiKey ?? '' })
    expect(messages.body.data.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant'])

    // Another conversation starts empty.
    const since = fake.requests.length
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello?' }] }, { headers: { 'Haithe-Conversation': 'support-thread-2' } })
    expect((lastCall(since)[0]!.body.messages as unknown[]).slice(1)).toEqual([{ role: 'user', content: 'Hello?' }])
  })

  it('leaves out, and does not charge, a product whose content cannot be fetched', async () => {
    const broken = await addEnabledProduct(gw, { owner, creator }, ready, { name: 'Broken prompts', category: 'promptset', uri: 'https://10.1.2.3/prompts.json', price: PRICE })
    const { data, response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }).withResponse()
    expect(response.headers.get('haithe-products-skipped')).toBe(String(broken.id))
    expect((data.usage as unknown as { total_cost: string }).total_cost).toBe(totalPrice.toString())
  })
})
