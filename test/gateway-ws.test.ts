/**
 * The gateway's WebSocket JSON-RPC endpoint (/api/v1beta/ws) on a real test gateway, with a funded
 * organization and a fake upstream: sign-in by signature over the socket, chats streamed as
 * notifications, the organization's usage and settlement events, and the protocol's errors.
 */
import { parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { ChainWalletClient } from '../src/chain/index.js'
import { createGatewayServer, writeRoutes } from '../src/write/index.js'
import { createSettler } from '../src/write/settlement/index.js'
import { startFakeUpstream, DEFAULT_CONTENT, type FakeUpstream } from './support/fake-upstream.js'
import { startTestGateway, type TestGateway } from './support/gateway.js'
import { INFERENCE_MODEL as MODEL, INFERENCE_MODEL_PRICE as MODEL_PRICE, setUpInferenceOrg, type InferenceOrg } from './support/inference-org.js'
import { eventually } from './support/eventually.js'

const PRODUCT_PRICE = parseEther('0.002')
const CALL_PRICE = MODEL_PRICE + PRODUCT_PRICE

interface RpcErrorBody { code: number; message: string; data?: { status: number; type: string; code: string | null } }
interface RpcMessage {
  jsonrpc: '2.0'
  id?: string | number | null
  result?: unknown
  error?: RpcErrorBody
  method?: string
  params?: Record<string, unknown>
}

/** A JSON-RPC client on the gateway's socket that keeps every message it received. */
class RpcClient {
  readonly messages: RpcMessage[] = []
  closed: { code: number; reason: string } | undefined
  #waiters: (() => void)[] = []
  #nextId = 1

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as RpcMessage)
      for (const wake of this.#waiters.splice(0)) wake()
    })
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) }
      for (const wake of this.#waiters.splice(0)) wake()
    })
  }

  static async connect(gatewayUrl: string): Promise<RpcClient> {
    const socket = new WebSocket(`${gatewayUrl.replace(/^http/, 'ws')}/api/v1beta/ws`)
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve())
      socket.once('error', reject)
    })
    return new RpcClient(socket)
  }

  /** The first message from `from` on that satisfies `predicate` (fails after 60 s, saying what it waited for). */
  async waitFor(what: string, predicate: (m: RpcMessage) => boolean, from = 0): Promise<RpcMessage> {
    const deadline = Date.now() + 60_000
    for (;;) {
      const found = this.messages.slice(from).find(predicate)
      if (found) return found
      if (this.closed) throw new Error(`${what}: the socket closed (${this.closed.code} ${this.closed.reason})`)
      if (Date.now() > deadline) throw new Error(`${what}: not received; got ${JSON.stringify(this.messages.slice(from)).slice(0, 2000)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000)
        this.#waiters.push(() => (clearTimeout(timer), resolve()))
      })
    }
  }

  /** Sends a request without waiting; returns its id. */
  request(method: string, params?: Record<string, unknown>, id: string | number = this.#nextId++): string | number {
    this.socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }))
    return id
  }

  /** The response to the call with `id`. */
  response(id: string | number | null): Promise<RpcMessage> {
    return this.waitFor(`the response to ${id}`, (m) => m.id === id && (m.result !== undefined || m.error !== undefined))
  }

  async call(method: string, params?: Record<string, unknown>): Promise<RpcMessage> {
    return this.response(this.request(method, params))
  }

  /** fetch_nonce, then authenticate with the wallet's personal_sign of it; returns the nonce and its signature. */
  async signIn(wallet: ChainWalletClient): Promise<{ nonce: string; signature: `0x${string}`; answer: RpcMessage }> {
    const address = wallet.account.address
    const issued = await this.call('fetch_nonce', { address })
    const { nonce, message } = issued.result as { nonce: string; message: string }
    expect(message).toBe(nonce)
    const signature = await wallet.signMessage({ message })
    const answer = await this.call('authenticate', { address, signature, nonce })
    return { nonce, signature, answer }
  }

  chunksOf(id: string | number): RpcMessage[] {
    return this.messages.filter((m) => m.method === 'chat.chunk' && m.params?.id === id)
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) return resolve()
      this.socket.once('close', () => resolve())
      this.socket.close()
    })
  }
}

describe('WebSocket JSON-RPC at /api/v1beta/ws', () => {
  let fake: FakeUpstream
  let gw: TestGateway
  let owner: ChainWalletClient
  let outsider: ChainWalletClient
  let ready: InferenceOrg
  let orgRef: string
  let projectRef: string
  let walletKey: string
  const clients: RpcClient[] = []

  const connect = async () => {
    const client = await RpcClient.connect(gw.url)
    clients.push(client)
    return client
  }
  const signedIn = async () => {
    const client = await connect()
    const { answer } = await client.signIn(owner)
    expect(answer.result).toEqual({ address: owner.account.address.toLowerCase() })
    return client
  }
  /** A chat completion over HTTP (on the first gateway), under its own request id. */
  const chatOverHttp = (requestId: string) =>
    fetch(`${gw.url}/api/v1beta/openai/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${walletKey}`, 'content-type': 'application/json', 'openai-organization': orgRef, 'openai-project': projectRef, 'x-request-id': requestId },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }] }),
    })
  const chatParams = (request: Record<string, unknown>) => ({ organization: orgRef, project: projectRef, request: { model: MODEL, messages: [{ role: 'user', content: 'Hello' }], ...request } })

  beforeAll(async () => {
    fake = await startFakeUpstream()
    gw = await startTestGateway({ config: { providers: { groq: { apiKey: 'test-key', baseUrl: fake.url } } } })
    ;[owner, outsider] = await Promise.all([gw.dev.wallet(1), gw.dev.wallet(4)])
    const creator = await gw.dev.wallet(3)
    ready = await setUpInferenceOrg(gw, { owner, creator }, { name: 'Socket Inc', productPrice: PRODUCT_PRICE })
    orgRef = `org-${ready.org.address.slice(2)}`
    projectRef = `proj-${ready.project.project_uid}`
    walletKey = (await gw.call<{ api_key: string }>('GET', '/api/v1/me/api-key', { token: ready.ownerToken })).body.data.api_key
  }, 180_000)

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await gw?.close()
    await fake?.close()
  })

  it('answers ping before sign-in, and refuses protected methods with -32001 until authenticate succeeds', async () => {
    const client = await connect()
    expect((await client.call('ping')).result).toBe('pong')
    for (const method of ['chat', 'subscribe', 'unsubscribe']) {
      const answer = await client.call(method, {})
      expect(answer.error).toMatchObject({ code: -32001, data: { status: 401, code: 'unauthenticated' } })
      expect(answer.error!.message).toContain('authenticate first')
    }
  })

  it('signs in with a signature of the fetched nonce; the same nonce and signature are refused on replay', async () => {
    const first = await connect()
    const { nonce, signature, answer } = await first.signIn(owner)
    expect(answer.result).toEqual({ address: owner.account.address.toLowerCase() })
    expect((await first.call('subscribe', { organization: orgRef })).result).toMatchObject({ subscription: expect.stringMatching(/^sub-/) })

    const replay = await connect()
    const refused = await replay.call('authenticate', { address: owner.account.address, signature, nonce })
    expect(refused.error).toMatchObject({ code: -32001, data: { status: 401, code: 'nonce_used' } })
    expect((await replay.call('chat', chatParams({}))).error?.code).toBe(-32001)

    // A signature of another message is refused too.
    const other = await connect()
    const issued = (await other.call('fetch_nonce', { address: owner.account.address })).result as { nonce: string }
    const wrong = await other.call('authenticate', { address: owner.account.address, signature: await owner.signMessage({ message: 'something else' }), nonce: issued.nonce })
    expect(wrong.error).toMatchObject({ code: -32001, data: { status: 401, code: 'invalid_signature' } })
  })

  it('signs in with an API key as token, once per connection', async () => {
    const client = await connect()
    expect((await client.call('authenticate', { token: walletKey })).result).toEqual({ address: owner.account.address.toLowerCase() })
    expect((await client.call('authenticate', { token: walletKey })).error).toMatchObject({ code: -32409, data: { status: 409, code: 'already_authenticated' } })
    const bad = await connect()
    expect((await bad.call('authenticate', { token: 'sk-not-a-key' })).error).toMatchObject({ code: -32001, data: { status: 401 } })
  })

  it('streams a chat as chat.chunk notifications whose content is the answer, then { done: true }', async () => {
    const client = await signedIn()
    const id = client.request('chat', chatParams({ stream: true }), 'stream-1')
    const response = await client.response(id)
    expect(response.result).toEqual({ done: true, request_id: expect.stringMatching(/^ws-[0-9a-f-]{36}$/) })
    const chunks = client.chunksOf(id)
    expect(chunks.length).toBeGreaterThan(1)
    // Every notification came before the response.
    expect(client.messages.indexOf(chunks.at(-1)!)).toBeLessThan(client.messages.indexOf(response))
    const deltas = chunks.map((m) => (m.params!.chunk as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '')
    expect(deltas.join('')).toBe(DEFAULT_CONTENT)
    expect(chunks.every((m) => (m.params!.chunk as { model: string }).model === MODEL)).toBe(true)
  })

  it('sends a mid-stream failure as a chat.chunk with { error }, then { done: false }', async () => {
    const client = await signedIn()
    fake.enqueue({ kind: 'midStreamError', afterChunks: 2, error: { message: 'the model fell over', type: 'server_error', code: 'overloaded' } })
    const id = client.request('chat', chatParams({ stream: true }))
    expect((await client.response(id)).result).toMatchObject({ done: false })
    const last = client.chunksOf(id).at(-1)!
    expect(last.params).toMatchObject({ id, error: { message: 'the model fell over' } })
  })

  it('answers a chat that does not stream with the completion and its usage.total_cost, and a request_id its usage event carries', async () => {
    const client = await signedIn()
    await client.call('subscribe', { organization: ready.org.address })
    const from = client.messages.length
    const answer = await client.call('chat', chatParams({}))
    const completion = answer.result as { model: string; choices: { message: { content: string } }[]; usage: { total_cost: string }; request_id: string }
    expect(completion.model).toBe(MODEL)
    expect(completion.choices[0]!.message.content).toBe(DEFAULT_CONTENT)
    expect(completion.usage.total_cost).toBe(CALL_PRICE.toString())
    const usage = await client.waitFor('the usage event of this call', (m) => m.method === 'usage' && String(m.params?.request_id).startsWith(`${completion.request_id}:`), from)
    expect(usage.params).toMatchObject({ status: 'charged', amount: CALL_PRICE.toString() })
  })

  it('maps chat failures to the REST status: -32602 for a bad request, -32429 for the upstream\'s 429, -32404 for an unknown project', async () => {
    const client = await signedIn()
    const noModel = await client.call('chat', { organization: orgRef, project: projectRef, request: { messages: [{ role: 'user', content: 'Hi' }] } })
    expect(noModel.error).toMatchObject({ code: -32602, data: { status: 400, code: 'missing_required_parameter' } })
    fake.enqueue({ kind: 'error', status: 429, body: { error: { message: 'slow down', type: 'rate_limit_error', code: 'rate_limited' } } })
    const limited = await client.call('chat', chatParams({}))
    expect(limited.error).toMatchObject({ code: -32429, message: 'slow down', data: { status: 429 } })
    const unknown = await client.call('chat', { ...chatParams({}), project: 'proj-doesnotexist' })
    expect(unknown.error).toMatchObject({ code: -32404, data: { status: 404, code: 'project_not_found' } })
  })

  it('runs up to 4 chats at once on one connection; a fifth is refused with -32429', async () => {
    const client = await signedIn()
    fake.enqueue(...Array.from({ length: 4 }, () => ({ kind: 'answer' as const, chunkDelayMs: 200 })))
    const ids = [1, 2, 3, 4].map((n) => client.request('chat', chatParams({ stream: true }), `slow-${n}`))
    await Promise.all(ids.map((id) => client.waitFor(`a first chunk of ${id}`, (m) => m.method === 'chat.chunk' && m.params?.id === id)))
    const fifth = await client.call('chat', chatParams({ stream: true }))
    expect(fifth.error).toMatchObject({ code: -32429, data: { status: 429, code: 'too_many_concurrent_chats' } })
    for (const id of ids) expect((await client.response(id)).result).toMatchObject({ done: true })
  })

  it('aborts the upstream call when the socket closes during a chat', async () => {
    const client = await signedIn()
    fake.enqueue({ kind: 'answer', chunkDelayMs: 500, content: 'a long and slow answer that will not be read to its end' })
    const id = client.request('chat', chatParams({ stream: true }))
    await client.waitFor('the first chunk', (m) => m.method === 'chat.chunk' && m.params?.id === id)
    const upstreamCall = fake.requests.at(-1)!
    await client.close()
    await upstreamCall.whenAborted
    expect(upstreamCall.aborted).toBe(true)
  })

  it('sends the organization\'s usage events to a subscriber: a chat over HTTP is charged', async () => {
    const client = await signedIn()
    const subscribed = await client.call('subscribe', { organization: ready.org.address })
    const { subscription } = subscribed.result as { subscription: string }
    expect(subscribed.result).toMatchObject({ organization: ready.org.address.toLowerCase() })
    const from = client.messages.length

    const requestId = `ws-test-${Date.now()}`
    const http = await chatOverHttp(requestId)
    expect(http.status).toBe(200)
    const usage = await client.waitFor('the usage event', (m) => m.method === 'usage' && String(m.params?.request_id).startsWith(`${requestId}:`), from)
    expect(usage.params).toMatchObject({
      subscription, organization: ready.org.address.toLowerCase(), project_id: String(ready.project.id), model_id: 6,
      amount: CALL_PRICE.toString(), status: 'charged',
    })
    expect((usage.params!.tokens as { total: number }).total).toBeGreaterThan(0)

    // A call that fails upstream is released, and said so.
    fake.enqueue({ kind: 'error', status: 500, body: { error: { message: 'boom', type: 'server_error', code: null } } })
    const failedId = client.request('chat', chatParams({}))
    expect((await client.response(failedId)).error?.data?.status).toBeGreaterThanOrEqual(500)
    const released = await client.waitFor('the release event', (m) => m.method === 'usage' && m.params?.status === 'released', from)
    expect(released.params).toMatchObject({ amount: CALL_PRICE.toString(), tokens: null })

    expect((await client.call('unsubscribe', { subscription })).result).toEqual({ unsubscribed: subscription })
    expect((await client.call('unsubscribe', { subscription })).error).toMatchObject({ code: -32404 })
  })

  it('delivers the events of a call answered by another gateway replica on the same database', async () => {
    const replica = createGatewayServer(gw.w, { routes: writeRoutes, listen: gw.database.listen, rateLimitPrefix: `test:ws-replica:${Date.now()}` })
    const replicaUrl = `http://127.0.0.1:${(await replica.listen('127.0.0.1', 0)).port}`
    try {
      const client = await RpcClient.connect(replicaUrl)
      clients.push(client)
      await client.call('authenticate', { token: walletKey })
      const { subscription } = (await client.call('subscribe', { organization: orgRef })).result as { subscription: string }
      const requestId = `ws-replica-${Date.now()}`
      const http = await chatOverHttp(requestId)
      expect(http.status).toBe(200)
      const usage = await client.waitFor('the usage event on the replica', (m) => m.method === 'usage' && String(m.params?.request_id).startsWith(`${requestId}:`))
      expect(usage.params).toMatchObject({ subscription, amount: CALL_PRICE.toString(), status: 'charged' })
    } finally {
      await replica.close()
    }
  })

  it('sends a settlement event when the organization\'s charged lines are settled on chain', async () => {
    const client = await signedIn()
    const { subscription } = (await client.call('subscribe', { organization: orgRef })).result as { subscription: string }
    const settler = createSettler({ db: gw.w.db, chain: gw.chain, outbox: gw.w.outbox, logger: gw.w.logger, metrics: gw.w.metrics })
    const round = await settler.tick()
    const batch = round.created.find((b) => b.organization === ready.org.address.toLowerCase())!
    expect(batch).toBeDefined()
    const entry = await gw.w.outbox.settled(batch.outboxId, 60_000)
    await eventually(() => settler.tick(), () => client.messages.some((m) => m.method === 'settlement'), 'the settlement event')
    const settled = client.messages.find((m) => m.method === 'settlement')!
    expect(settled.params).toEqual({
      subscription, organization: ready.org.address.toLowerCase(), batch_id: batch.batchId, tx_hash: entry.txHash,
      lines: batch.lines, amount: batch.total.toString(),
    })
  })

  it('refuses a subscription to an organization the caller is not part of with -32003', async () => {
    const client = await connect()
    await client.signIn(outsider)
    const answer = await client.call('subscribe', { organization: orgRef })
    expect(answer.error).toMatchObject({ code: -32003, data: { status: 403, code: 'not_a_member' } })
  })

  it('answers protocol errors: -32700 for malformed JSON, -32600 for a non-request, -32601 for an unknown method, -32602 for bad params', async () => {
    const client = await connect()
    client.socket.send('{"jsonrpc":"2.0","id":1,')
    expect((await client.response(null)).error).toMatchObject({ code: -32700 })
    client.socket.send(JSON.stringify({ jsonrpc: '1.0', id: 'old', method: 'ping' }))
    expect((await client.response('old')).error).toMatchObject({ code: -32600 })
    expect((await client.call('no_such_method')).error).toMatchObject({ code: -32601, message: expect.stringContaining('no_such_method') })
    const bad = await client.call('fetch_nonce', { address: 'nope' })
    expect(bad.error).toMatchObject({ code: -32602, message: expect.stringContaining('address: must be a 0x-prefixed 20-byte hex address') })
    // The connection is still usable after each.
    expect((await client.call('ping')).result).toBe('pong')
  })

  it('does not upgrade another path', async () => {
    const socket = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/api/v1beta/wss`)
    const status = await new Promise<number>((resolve, reject) => {
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0))
      socket.once('open', () => reject(new Error('the wrong path was upgraded')))
      socket.once('error', (err) => {
        const match = /Unexpected server response: (\d+)/.exec(err.message)
        if (match) resolve(Number(match[1]))
        else reject(err)
      })
    })
    expect(status).toBe(404)
    socket.terminate()
  })
})
