/**
 * Conversation memory: conversations resolved from what clients send (their id, or a name of
 * the client's own), the window of messages a call gets back, and v1's
 * /api/v1beta/chat/conversations routes, served over the test gateway's write context by a
 * gateway server that mounts them (authentication and envelope as in production).
 */
import { randomBytes } from 'node:crypto'
import type { Address } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChainWalletClient } from '../src/chain/index.js'
import { createGatewayServer, type GatewayServer } from '../src/write/index.js'
import {
  appendMemory, ConversationAccessError, ConversationReferenceError, conversationRoutes, loadMemory, newMessagesOf, resolveConversation,
  type ConversationView, type MemoryMessageView,
} from '../src/write/inference/memory/index.js'
import { startTestGateway, type CallOptions, type GatewayAnswer, type TestGateway } from './support/gateway.js'
import { setUpInferenceOrg, type InferenceOrg } from './support/inference-org.js'

const BASE = '/api/v1beta/chat/conversations'

let gw: TestGateway
let memoryServer: GatewayServer
let memoryUrl: string
let setup: InferenceOrg
let projectId: string
let otherProjectId: string
const wallets = {} as Record<'owner' | 'creator' | 'developer' | 'viewer', ChainWalletClient>
const tokens = {} as Record<'owner' | 'developer' | 'viewer', string>
const lower = (w: ChainWalletClient) => w.account.address.toLowerCase() as Address

async function call<T>(method: string, path: string, options: CallOptions = {}): Promise<GatewayAnswer<T>> {
  const target = new URL(path, memoryUrl)
  for (const [name, value] of Object.entries(options.query ?? {})) if (value !== undefined) target.searchParams.set(name, String(value))
  const headers: Record<string, string> = { ...options.headers }
  if (options.token) headers.authorization = `Bearer ${options.token}`
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(target, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) })
  const text = await response.text()
  const body = (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : undefined
  return { status: response.status, headers: response.headers, body, text }
}

async function must<T>(answer: Promise<GatewayAnswer<T>>, status = 200): Promise<T> {
  const a = await answer
  if (a.status !== status) throw new Error(`expected ${status}, got ${a.status} ${a.text}`)
  return a.body.data
}

const createConversation = (token: string, body: Record<string, unknown> = { project_id: Number(projectId) }) =>
  must(call<ConversationView>('POST', BASE, { token, body }), 201)

beforeAll(async () => {
  gw = await startTestGateway()
  wallets.owner = await gw.dev.wallet(1)
  wallets.creator = await gw.dev.wallet(2)
  wallets.developer = await gw.dev.wallet(3)
  wallets.viewer = await gw.dev.wallet(4)
  setup = await setUpInferenceOrg(gw, { owner: wallets.owner, creator: wallets.creator }, { name: 'Memory', productPrice: 10n ** 15n })
  projectId = String(setup.project.id)
  tokens.owner = setup.ownerToken
  for (const [role, wallet] of [['developer', wallets.developer], ['viewer', wallets.viewer]] as const) {
    const added = await gw.call('POST', `/api/v1/projects/${projectId}/members`, { token: tokens.owner, query: { wallet_address: lower(wallet), role } })
    if (added.status >= 300) throw new Error(`adding the ${role}: ${added.status} ${added.text}`)
    tokens[role] = await gw.signIn(wallet)
  }
  const other = await gw.call<{ id: number }>('POST', '/api/v1/projects', { token: tokens.owner, query: { org_id: setup.org.id, name: 'Other' } })
  if (other.status !== 201) throw new Error(`second project: ${other.status} ${other.text}`)
  otherProjectId = String(other.body.data.id)

  memoryServer = createGatewayServer(gw.w, { routes: conversationRoutes, rateLimitPrefix: `test:memory:${randomBytes(4).toString('hex')}` })
  const { port } = await memoryServer.listen('127.0.0.1', 0)
  memoryUrl = `http://127.0.0.1:${port}`
}, 180_000)

afterAll(async () => {
  await memoryServer?.close()
  await gw?.close()
})

describe('resolveConversation', () => {
  it('creates a conversation for a new external id once, however many calls race for it', async () => {
    const reference = `user-${randomBytes(4).toString('hex')}`
    const wallet = lower(wallets.owner)
    const results = await Promise.all(Array.from({ length: 20 }, () => resolveConversation(gw.w, { projectId, wallet, reference })))
    expect(new Set(results.map((r) => r.id)).size).toBe(1)
    expect(results.filter((r) => r.created)).toHaveLength(1)
    const rows = await gw.database.db.selectFrom('app.conversations').select('id').where('external_id', '=', reference).execute()
    expect(rows).toEqual([{ id: results[0]!.id }])
    expect(await resolveConversation(gw.w, { projectId, wallet, reference })).toEqual({ id: results[0]!.id, created: false })
  })

  it('finds the caller\'s conversation by its id, in any case', async () => {
    const wallet = lower(wallets.owner)
    const { id } = await resolveConversation(gw.w, { projectId, wallet, reference: `by-id-${randomBytes(4).toString('hex')}` })
    expect(await resolveConversation(gw.w, { projectId, wallet, reference: id })).toEqual({ id, created: false })
    expect(await resolveConversation(gw.w, { projectId, wallet, reference: id.toUpperCase() })).toEqual({ id, created: false })
  })

  it('refuses another wallet\'s or another project\'s conversation, by id or by external id', async () => {
    const reference = `private-${randomBytes(4).toString('hex')}`
    const { id } = await resolveConversation(gw.w, { projectId, wallet: lower(wallets.owner), reference })
    const developer = lower(wallets.developer)
    await expect(resolveConversation(gw.w, { projectId, wallet: developer, reference: id })).rejects.toBeInstanceOf(ConversationAccessError)
    await expect(resolveConversation(gw.w, { projectId: otherProjectId, wallet: lower(wallets.owner), reference: id })).rejects.toThrow(/belongs to another project or wallet/)
    await expect(resolveConversation(gw.w, { projectId, wallet: developer, reference })).rejects.toBeInstanceOf(ConversationAccessError)
    // The same name in another project is another conversation.
    const elsewhere = await resolveConversation(gw.w, { projectId: otherProjectId, wallet: developer, reference })
    expect(elsewhere.created).toBe(true)
    expect(elsewhere.id).not.toBe(id)
  })

  it('refuses an empty or overlong reference', async () => {
    const wallet = lower(wallets.owner)
    await expect(resolveConversation(gw.w, { projectId, wallet, reference: '' })).rejects.toBeInstanceOf(ConversationReferenceError)
    await expect(resolveConversation(gw.w, { projectId, wallet, reference: 'x'.repeat(201) })).rejects.toBeInstanceOf(ConversationReferenceError)
    expect((await resolveConversation(gw.w, { projectId, wallet, reference: `${'x'.repeat(190)}${randomBytes(5).toString('hex')}` })).created).toBe(true)
  })
})

describe('loadMemory and appendMemory', () => {
  const call1 = { id: 'call_1', type: 'function', function: { name: 'price', arguments: '{}' } }
  const said = [
    { role: 'user', content: 'u1' },
    { role: 'assistant', content: 'a1' },
    { role: 'user', content: 'u2' },
    { role: 'assistant', content: null, tool_calls: [call1, { ...call1, id: 'call_2' }] },
    { role: 'tool', tool_call_id: 'call_1', content: '1' },
    { role: 'tool', tool_call_id: 'call_2', content: '2' },
    { role: 'assistant', content: 'a2' },
  ]
  let conversationId: string

  beforeAll(async () => {
    conversationId = (await resolveConversation(gw.w, { projectId, wallet: lower(wallets.owner), reference: `window-${randomBytes(4).toString('hex')}` })).id
    await appendMemory(gw.w, conversationId, said.slice(0, 3))
    await appendMemory(gw.w, conversationId, [])
    await appendMemory(gw.w, conversationId, said.slice(3))
  })

  it('gives back the last messages oldest first, as they were stored', async () => {
    expect(await loadMemory(gw.w, conversationId, 100)).toEqual(said)
    expect(await loadMemory(gw.w, conversationId, 2)).toEqual(said.slice(5).filter((m) => m.role !== 'tool'))
    expect(await loadMemory(gw.w, conversationId, 0)).toEqual([])
  })

  it('never opens a window with tool results whose call fell outside it', async () => {
    expect(await loadMemory(gw.w, conversationId, 3)).toEqual([said[6]])
    expect(await loadMemory(gw.w, conversationId, 4)).toEqual(said.slice(3))
    expect(await loadMemory(gw.w, conversationId, 5)).toEqual(said.slice(2))
  })

  it('marks the conversation active when messages are added', async () => {
    const before = await gw.database.db.selectFrom('app.conversations').select('updated_at').where('id', '=', conversationId).executeTakeFirstOrThrow()
    await appendMemory(gw.w, conversationId, [{ role: 'user', content: 'again' }])
    const after = await gw.database.db.selectFrom('app.conversations').select('updated_at').where('id', '=', conversationId).executeTakeFirstOrThrow()
    expect(after.updated_at.getTime()).toBeGreaterThanOrEqual(before.updated_at.getTime())
    expect((await loadMemory(gw.w, conversationId, 1))).toEqual([{ role: 'user', content: 'again' }])
  })

  it('keeps what a request says but not its system or developer messages', () => {
    expect(newMessagesOf([
      { role: 'system', content: 's' }, { role: 'developer', content: 'd' }, { role: 'user', content: 'u' }, { role: 'assistant', content: 'a' }, { role: 'tool', content: 't' },
    ])).toEqual([{ role: 'user', content: 'u' }, { role: 'assistant', content: 'a' }, { role: 'tool', content: 't' }])
  })
})

describe('/api/v1beta/chat/conversations', () => {
  it('creates, lists (own only, newest first, in pages), gets and renames conversations', async () => {
    const first = await createConversation(tokens.owner, { project_id: Number(projectId), title: 'First' })
    expect(first).toMatchObject({ project_id: Number(projectId), title: 'First', external_id: null, messages: 0 })
    const second = await createConversation(tokens.owner)
    const third = await createConversation(tokens.owner, { project_id: Number(otherProjectId) })
    const developers = await createConversation(tokens.developer, { project_id: Number(projectId), title: 'Mine' })

    const mine = await must(call<ConversationView[]>('GET', BASE, { token: tokens.owner, query: { limit: 100 } }))
    const ids = mine.map((c) => c.id)
    expect(ids.slice(0, 3)).toEqual([third.id, second.id, first.id])
    expect(ids).not.toContain(developers.id)
    const theirs = (await must(call<ConversationView[]>('GET', BASE, { token: tokens.developer }))).map((c) => c.id)
    expect(theirs[0]).toBe(developers.id)
    expect(theirs.filter((id) => ids.includes(id))).toEqual([])

    const inProject = await must(call<ConversationView[]>('GET', BASE, { token: tokens.owner, query: { project_id: projectId, limit: 100 } }))
    expect(inProject.every((c) => c.project_id === Number(projectId))).toBe(true)
    expect(inProject.map((c) => c.id)).not.toContain(third.id)

    const page1 = await must(call<ConversationView[]>('GET', BASE, { token: tokens.owner, query: { limit: 2 } }))
    expect(page1.map((c) => c.id)).toEqual([third.id, second.id])
    const page2 = await must(call<ConversationView[]>('GET', BASE, { token: tokens.owner, query: { limit: 2, before: second.id } }))
    expect(page2[0]!.id).toBe(first.id)
    expect((await call('GET', BASE, { token: tokens.owner, query: { before: developers.id } })).status).toBe(400)
    expect((await call('GET', BASE, { token: tokens.owner, query: { limit: 101 } })).status).toBe(400)

    expect(await must(call<ConversationView>('GET', `${BASE}/${first.id}`, { token: tokens.owner }))).toEqual(first)
    const renamed = await must(call<ConversationView>('PATCH', `${BASE}/${first.id}`, { token: tokens.owner, body: { title: '  Renamed ' } }))
    expect(renamed.title).toBe('Renamed')
    // Renaming is activity: it comes first now.
    expect((await must(call<ConversationView[]>('GET', BASE, { token: tokens.owner, query: { limit: 1 } })))[0]!.id).toBe(first.id)
    expect((await must(call<ConversationView>('PATCH', `${BASE}/${first.id}`, { token: tokens.owner, body: { title: null } }))).title).toBeNull()
  })

  it('seeds messages and lists them in the order they were said', async () => {
    const conversation = await createConversation(tokens.owner)
    const messages = [
      { role: 'system', content: 'Be brief' },
      { role: 'user', content: [{ type: 'text', text: 'What is 2+2?' }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'add', arguments: '{"a":2,"b":2}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: '4' },
      { role: 'assistant', content: '4' },
    ]
    const seeded = await must(call<ConversationView>('POST', `${BASE}/${conversation.id}/messages`, { token: tokens.owner, body: { messages } }), 201)
    expect(seeded.messages).toBe(5)

    const listed = await must(call<MemoryMessageView[]>('GET', `${BASE}/${conversation.id}/messages`, { token: tokens.owner }))
    expect(listed.map((m) => m.message)).toEqual(messages)
    expect(listed.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'assistant'])
    const page = await must(call<MemoryMessageView[]>('GET', `${BASE}/${conversation.id}/messages`, { token: tokens.owner, query: { limit: 2, after: listed[1]!.id } }))
    expect(page.map((m) => m.message)).toEqual(messages.slice(2, 4))
    // What a call would get back from memory is the same conversation.
    expect(await loadMemory(gw.w, conversation.id, 10)).toEqual(messages)

    const badRole = await call('POST', `${BASE}/${conversation.id}/messages`, { token: tokens.owner, body: { messages: [{ role: 'robot', content: 'beep' }] } })
    expect(badRole.status).toBe(400)
    expect(badRole.body.message).toMatch(/system, user, assistant or tool/)
    const badContent = await call('POST', `${BASE}/${conversation.id}/messages`, { token: tokens.owner, body: { messages: [{ role: 'user', content: 42 }] } })
    expect(badContent.status).toBe(400)
    expect((await call('POST', `${BASE}/${conversation.id}/messages`, { token: tokens.owner, body: { messages: [] } })).status).toBe(400)
  })

  it('deletes a conversation: then it is gone', async () => {
    const conversation = await createConversation(tokens.owner)
    expect((await call('DELETE', `${BASE}/${conversation.id}`, { token: tokens.owner })).status).toBe(200)
    expect((await call('GET', `${BASE}/${conversation.id}`, { token: tokens.owner })).status).toBe(404)
    expect((await call('DELETE', `${BASE}/${conversation.id}`, { token: tokens.owner })).status).toBe(404)
    expect((await call('GET', `${BASE}/${conversation.id}/messages`, { token: tokens.owner })).status).toBe(404)
    const listed = await must(call<ConversationView[]>('GET', BASE, { token: tokens.owner, query: { limit: 100 } }))
    expect(listed.map((c) => c.id)).not.toContain(conversation.id)
  })

  it('answers another wallet 404 for a conversation it did not start, as for an unknown one', async () => {
    const conversation = await createConversation(tokens.owner)
    const path = `${BASE}/${conversation.id}`
    const answers = [
      await call('GET', path, { token: tokens.developer }),
      await call('PATCH', path, { token: tokens.developer, body: { title: 'taken' } }),
      await call('DELETE', path, { token: tokens.developer }),
      await call('GET', `${path}/messages`, { token: tokens.developer }),
      await call('POST', `${path}/messages`, { token: tokens.developer, body: { messages: [{ role: 'user', content: 'hi' }] } }),
      await call('GET', `${BASE}/00000000-0000-4000-8000-000000000000`, { token: tokens.owner }),
    ]
    expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 404, 404, 404])
    expect(answers[0]!.body.message).toBe(answers[5]!.body.message.replace('00000000-0000-4000-8000-000000000000', conversation.id))
    expect((await must(call<ConversationView>('GET', path, { token: tokens.owner }))).title).toBeNull()
  })

  it('lets only those who may call inference in the project start a conversation there', async () => {
    const viewer = await call('POST', BASE, { token: tokens.viewer, body: { project_id: Number(projectId) } })
    expect(viewer.status).toBe(403)
    const creator = await call('POST', BASE, { token: await gw.signIn(wallets.creator), body: { project_id: Number(projectId) } })
    expect(creator.status).toBe(403)
    expect((await call('POST', BASE, { token: tokens.owner, body: { project_id: 999_999 } })).status).toBe(404)
    expect((await call('GET', BASE)).status).toBe(401)
  })

  it('answers 400 for a malformed conversation id', async () => {
    const answer = await call('GET', `${BASE}/not-a-uuid`, { token: tokens.owner })
    expect(answer.status).toBe(400)
    expect(answer.body.message).toMatch(/not a conversation id.*UUID/)
    expect((await call('PATCH', `${BASE}/12345`, { token: tokens.owner, body: { title: 'x' } })).status).toBe(400)
  })

  it('gives a scoped key its issuer\'s conversations of its project only, and only with a calling role', async () => {
    const key = async (role: string) => (await must(gw.call<{ key: string }>('POST', `/api/v1/projects/${projectId}/keys`, { token: tokens.owner, query: { role } }), 201)).key
    const developerKey = await key('developer')
    const viaKey = await createConversation(developerKey)
    expect(viaKey.project_id).toBe(Number(projectId))
    const elsewhere = await createConversation(tokens.owner, { project_id: Number(otherProjectId) })
    expect((await call('POST', BASE, { token: developerKey, body: { project_id: Number(otherProjectId) } })).status).toBe(403)

    const seen = await must(call<ConversationView[]>('GET', BASE, { token: developerKey, query: { limit: 100 } }))
    expect(seen.map((c) => c.id)).toContain(viaKey.id)
    expect(seen.every((c) => c.project_id === Number(projectId))).toBe(true)
    expect((await call('GET', `${BASE}/${elsewhere.id}`, { token: developerKey })).status).toBe(404)
    // The wallet that issued the key sees what the key started.
    expect((await call('GET', `${BASE}/${viaKey.id}`, { token: tokens.owner })).status).toBe(200)

    expect((await call('POST', BASE, { token: await key('viewer'), body: { project_id: Number(projectId) } })).status).toBe(403)
  })
})
