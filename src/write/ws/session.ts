/**
 * One WebSocket connection's session: unauthenticated until `authenticate` succeeds (only
 * `fetch_nonce` and `ping` before that), then `chat`, `subscribe` and `unsubscribe`. The
 * credential is checked again before each protected call, so a session that was signed out or
 * an API key that was revoked stops working here too. Closing the session aborts its running
 * chats and drops its subscriptions.
 */
import { randomUUID } from 'node:crypto'
import type { WebSocket } from 'ws'
import type { Logger } from '../../obs/index.js'
import { authenticate } from '../auth/authenticate.js'
import { logIn } from '../auth/login.js'
import { issueNonce } from '../auth/nonces.js'
import type { Principal } from '../auth/principal.js'
import { OrgEventsUnavailableError, type OrgEvent, type OrgEventHub } from '../events/index.js'
import { resolveCallerOf } from '../inference/caller-context.js'
import type { ChatDeps } from '../inference/chat/run-chat.js'
import { runChatCall } from './chat-call.js'
import { httpRpcError, toRpcError } from './errors.js'
import { authenticateParams, chatParams, fetchNonceParams, subscribeParams, unsubscribeParams } from './params.js'
import { errorMessage, notificationMessage, parseMessage, parseParams, resultMessage, RpcCode, RpcError, type RpcId, type RpcRequest } from './protocol.js'

export interface RpcLimits {
  /** Largest message accepted, in bytes (the socket closes with 1009 beyond it). */
  maxPayloadBytes: number
  /** A ping every interval; a peer that did not answer the previous one is dropped. */
  heartbeatMs: number
  /** An unauthenticated connection is closed (4401) after this long. */
  authTimeoutMs: number
  /** Chats running at once on one connection. */
  maxConcurrentChats: number
  /** Subscriptions on one connection. */
  maxSubscriptions: number
}

export const DEFAULT_RPC_LIMITS: RpcLimits = {
  maxPayloadBytes: 1024 * 1024,
  heartbeatMs: 30_000,
  authTimeoutMs: 60_000,
  maxConcurrentChats: 4,
  maxSubscriptions: 16,
}

export interface RpcSessionDeps {
  chat: ChatDeps
  /** The organization events; null when the gateway has no LISTEN connection. */
  events: OrgEventHub | null
  limits: RpcLimits
}

/** The connecting client, for sign-in (SIWE's domain is checked against `host`) and its session record. */
export interface RpcClient {
  host: string
  ip?: string
  userAgent?: string
}

const PUBLIC_METHODS: ReadonlySet<string> = new Set(['ping', 'fetch_nonce', 'authenticate'])
const METHODS = ['ping', 'fetch_nonce', 'authenticate', 'chat', 'subscribe', 'unsubscribe'] as const

const authenticateFirst = () =>
  httpRpcError(401, 'unauthenticated', 'authenticate first: call fetch_nonce, sign the nonce, then authenticate with { address, signature, nonce } (or { token })')

function usageParams(event: OrgEvent): Record<string, unknown> {
  if (event.type === 'usage') {
    return {
      organization: event.organization, request_id: event.requestId, project_id: event.projectId, model_id: event.modelId,
      amount: event.amount, status: event.status, tokens: event.tokens,
    }
  }
  return { organization: event.organization, batch_id: event.batchId, tx_hash: event.txHash, lines: event.lines, amount: event.amount }
}

export class RpcSession {
  #principal: Principal | undefined
  /** The session token or API key the principal came from: re-verified before protected calls; never logged. */
  #credential: string | undefined
  readonly #chats = new Map<RpcId, AbortController>()
  readonly #subscriptions = new Map<string, () => void>()
  /** Messages are taken in order; `authenticate` holds the next one until it is done. */
  #turn: Promise<void> = Promise.resolve()
  #closed = false

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: RpcSessionDeps,
    private readonly client: RpcClient,
    private readonly logger: Logger,
    private readonly onAuthenticated: () => void,
  ) {}

  get authenticated(): boolean {
    return this.#principal !== undefined
  }

  /** Sends a message; resolves when the socket took it (at once when the socket is gone). */
  send(message: unknown): Promise<void> {
    if (this.ws.readyState !== this.ws.OPEN) return Promise.resolve()
    return new Promise((resolve) => this.ws.send(JSON.stringify(message), () => resolve()))
  }

  receive(text: string): void {
    this.#turn = this.#turn.then(() => this.#take(text))
  }

  close(): void {
    this.#closed = true
    for (const controller of this.#chats.values()) controller.abort()
    this.#chats.clear()
    for (const stop of this.#subscriptions.values()) stop()
    this.#subscriptions.clear()
  }

  /** Starts one call; resolves when the next message may be taken. */
  async #take(text: string): Promise<void> {
    if (this.#closed) return
    const parsed = parseMessage(text)
    if ('error' in parsed) return void this.send(errorMessage(parsed.id, parsed.error))
    const call = this.#answer(parsed.request)
    if (parsed.request.method === 'authenticate') await call
  }

  async #answer(request: RpcRequest): Promise<void> {
    try {
      const result = await this.#dispatch(request)
      if (!this.#closed) await this.send(resultMessage(request.id, result))
    } catch (err) {
      if (this.#closed) return
      let error = toRpcError(err)
      if (!error) {
        this.logger.error({ err, method: request.method }, 'a WebSocket call failed')
        error = new RpcError(RpcCode.internalError, 'internal error: the gateway failed on this call; try again, and tell its operators if it persists')
      }
      await this.send(errorMessage(request.id, error))
    }
  }

  async #dispatch({ id, method, params }: RpcRequest): Promise<unknown> {
    if (!(METHODS as readonly string[]).includes(method)) {
      throw new RpcError(RpcCode.methodNotFound, `method not found: "${method.slice(0, 64)}"; the methods are ${METHODS.join(', ')}`)
    }
    if (!PUBLIC_METHODS.has(method) && !this.#principal) throw authenticateFirst()
    const { w } = this.deps.chat
    switch (method) {
      case 'ping':
        return 'pong'
      case 'fetch_nonce': {
        const { address } = parseParams(fetchNonceParams, params)
        const { nonce, expiresAt } = await issueNonce(w, address)
        // v1's personal_sign login: the message to sign is the nonce itself.
        return { nonce, message: nonce, expires_at: expiresAt.toISOString() }
      }
      case 'authenticate':
        return this.#authenticate(params)
      case 'chat':
        return this.#chat(id, params)
      case 'subscribe':
        return this.#subscribe(params)
      case 'unsubscribe': {
        const { subscription } = parseParams(unsubscribeParams, params)
        const stop = this.#subscriptions.get(subscription)
        if (!stop) throw httpRpcError(404, 'subscription_not_found', `no subscription ${subscription.slice(0, 100)} on this connection`)
        stop()
        this.#subscriptions.delete(subscription)
        return { unsubscribed: subscription }
      }
    }
    throw new Error(`method ${method} is listed but not dispatched`)
  }

  async #authenticate(params: Record<string, unknown>): Promise<{ address: string }> {
    if (this.#principal) {
      throw httpRpcError(409, 'already_authenticated', `this connection is already authenticated as ${this.#principal.address}; open another connection for another identity`)
    }
    const input = parseParams(authenticateParams, params)
    const { w } = this.deps.chat
    let credential: string
    if (input.token !== undefined) {
      credential = input.token
    } else {
      const loggedIn = await logIn(w, {
        signature: input.signature!,
        ...(input.address ? { address: input.address } : {}),
        ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
        ...(input.message !== undefined ? { message: input.message } : {}),
      }, this.client)
      credential = loggedIn.token
    }
    const principal = await authenticate(w, credential)
    if (this.#closed) return { address: principal.address }
    this.#principal = principal
    this.#credential = credential
    this.onAuthenticated()
    this.logger.debug({ address: principal.address, kind: principal.kind }, 'WebSocket authenticated')
    return { address: principal.address }
  }

  /** The principal, its credential verified again (signed out, expired or revoked: unauthenticated again). */
  async #currentPrincipal(): Promise<Principal> {
    try {
      return await authenticate(this.deps.chat.w, this.#credential!)
    } catch (err) {
      const error = toRpcError(err)
      if (error?.code !== RpcCode.unauthenticated) throw err
      this.#principal = undefined
      this.#credential = undefined
      throw httpRpcError(401, 'unauthenticated', `your credential no longer holds (${error.message}); authenticate again`)
    }
  }

  async #chat(id: RpcId, params: Record<string, unknown>): Promise<unknown> {
    const input = parseParams(chatParams, params)
    const { limits } = this.deps
    if (this.#chats.has(id)) throw new RpcError(RpcCode.invalidRequest, `invalid request: a chat with id ${JSON.stringify(id)} is still running; give each call its own id`)
    if (this.#chats.size >= limits.maxConcurrentChats) {
      throw httpRpcError(429, 'too_many_concurrent_chats', `${limits.maxConcurrentChats} chats are already running on this connection; wait for one to finish (or open another connection)`)
    }
    const controller = new AbortController()
    this.#chats.set(id, controller)
    try {
      const principal = await this.#currentPrincipal()
      const caller = await resolveCallerOf(this.deps.chat.w, principal, { organization: input.organization, project: input.project }, true)
      return await runChatCall(this.deps.chat, {
        id, caller, request: input.request, conversation: input.conversation, signal: controller.signal,
        logger: this.logger, send: (message) => this.send(message),
      })
    } finally {
      if (this.#chats.get(id) === controller) this.#chats.delete(id)
    }
  }

  async #subscribe(params: Record<string, unknown>): Promise<{ subscription: string; organization: string }> {
    const input = parseParams(subscribeParams, params)
    const principal = await this.#currentPrincipal()
    // Membership as GET /models checks it: owner, admin or member, or in one of its projects.
    const { org } = await resolveCallerOf(this.deps.chat.w, principal, { organization: input.organization }, false)
    const events = this.deps.events
    if (!events) throw httpRpcError(503, 'events_unavailable', 'this gateway does not deliver organization events (it was started without a LISTEN connection to its database)')
    if (this.#subscriptions.size >= this.deps.limits.maxSubscriptions) {
      throw httpRpcError(429, 'too_many_subscriptions', `this connection already has ${this.deps.limits.maxSubscriptions} subscriptions; unsubscribe from one first`)
    }
    const subscription = `sub-${randomUUID()}`
    const organization = org!.address.toLowerCase()
    let stop: () => void
    try {
      stop = await events.subscribe(organization, {
        event: (event) => void this.send(notificationMessage(event.type, { subscription, ...usageParams(event) })),
        gap: () => void this.send(notificationMessage('subscription.gap', { subscription })),
      })
    } catch (err) {
      if (!(err instanceof OrgEventsUnavailableError)) throw err
      this.logger.error({ err }, 'organization events are unavailable')
      throw httpRpcError(503, 'events_unavailable', 'organization events are unavailable at the moment; try again shortly')
    }
    if (this.#closed) {
      stop()
      return { subscription, organization }
    }
    this.#subscriptions.set(subscription, stop)
    return { subscription, organization }
  }
}
