/**
 * v1's sign-in, session and API key routes: nonce and login (personal_sign, SIWE, smart-contract
 * wallets), logout, me and its sessions, the wallet's `sk-` key, and scoped project keys.
 */
import type { Context } from 'koa'
import type { Address } from 'viem'
import { z } from 'zod'
import { requireProjectAccess } from '../access/roles.js'
import { WriteError, notFound } from '../http/errors.js'
import { address, amount, displayName, id, signature, uuid } from '../http/inputs.js'
import { route, walletOf, type WriteRoute } from '../http/route.js'
import { logIn } from './login.js'
import { issueNonce } from './nonces.js'
import { createScopedKey, listScopedKeys, revokeScopedKey } from './scoped-keys.js'
import { revokeSession } from './sessions.js'
import { disableWalletKey, issueWalletKey, walletKeyIssuedAt } from './wallet-keys.js'

const projectRole = z.enum(['admin', 'developer', 'viewer'], { error: 'must be admin, developer or viewer' })

/**
 * The idempotency layer keeps a route's answer to replay it; an answer that carries a secret
 * (a session token, a new key) must not be kept, so these routes refuse the header.
 */
function refuseIdempotencyKey(c: Context): void {
  if (c.get('idempotency-key')) throw new WriteError(400, 'Idempotency-Key is not accepted here: the answer carries a secret that is not stored; retry without it')
}

const authentication: WriteRoute[] = [
  route({
    method: 'GET',
    path: '/v1/auth/nonce',
    access: 'public',
    summary: 'A single-use sign-in nonce for the address (a UUID, valid 5 minutes); sign it with personal_sign, or put it without hyphens in a SIWE message',
    input: z.object({ address }),
    async handle({ w, input }) {
      const { nonce } = await issueNonce(w, input.address)
      return { data: { nonce }, message: 'Nonce generated' }
    },
  }),
  route({
    method: 'POST',
    path: '/v1/auth/login',
    access: 'public',
    summary: 'Sign in with a signature of a nonce (personal_sign) or of a SIWE message; smart-contract wallets (ERC-1271, ERC-6492) too',
    input: z.object({
      address: address.optional(),
      signature,
      message: z.string().max(8192, 'is too long').optional(),
      nonce: uuid.optional(),
    }),
    async handle({ w, c, input }) {
      refuseIdempotencyKey(c)
      const request = {
        signature: input.signature,
        ...(input.address ? { address: input.address } : {}),
        ...(input.message !== undefined ? { message: input.message } : {}),
        ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
      }
      const userAgent = c.get('user-agent')
      const session = await logIn(w, request, { host: c.host, ip: c.ip, ...(userAgent ? { userAgent } : {}) })
      w.logger.debug({ address: session.address, method: session.method }, 'signed in')
      return { data: { address: session.address, token: session.token }, message: 'Login successful' }
    },
  }),
  route({
    method: 'POST',
    path: '/v1/auth/logout',
    access: 'wallet',
    summary: 'Ends the session of the token presented',
    async handle({ w, principal }) {
      if (principal.kind !== 'session') throw new WriteError(400, 'logout ends a session; this request used an API key (disable it with POST /api/v1/me/api-key/disable)')
      await revokeSession(w, principal.sessionId)
      return { data: null, message: 'Logged out' }
    },
  }),
]

const me: WriteRoute[] = [
  route({
    method: 'GET',
    path: '/v1/me',
    access: 'wallet',
    summary: 'The signed-in wallet, and whether it is registered as a creator',
    async handle({ w, principal }) {
      const address = walletOf(principal)
      const creator = await w.db
        .selectFrom('chain.creators')
        .select('token_id')
        .where('chain_id', '=', w.chain.chainId)
        .where('address', '=', address)
        .executeTakeFirst()
      return { data: { address, registered: creator !== undefined }, message: 'Account fetched' }
    },
  }),
  route({
    method: 'GET',
    path: '/v1/me/sessions',
    access: 'wallet',
    summary: 'The wallet\'s sessions that have not expired (revoked ones included), newest first',
    async handle({ w, principal }) {
      const rows = await w.db
        .selectFrom('app.sessions')
        .select(['id', 'ip', 'user_agent', 'created_at', 'expires_at', 'revoked_at'])
        .where('address', '=', walletOf(principal))
        .where('expires_at', '>', w.now())
        .orderBy('created_at', 'desc')
        .limit(100)
        .execute()
      const current = principal.kind === 'session' ? principal.sessionId : undefined
      return { data: rows.map((s) => ({ ...s, current: s.id === current })), message: 'Sessions fetched' }
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/me/sessions/:id',
    access: 'wallet',
    summary: 'Ends one of the wallet\'s sessions',
    input: z.object({ id: uuid }),
    async handle({ w, input, principal }) {
      const session = await w.db
        .selectFrom('app.sessions')
        .select('id')
        .where('id', '=', input.id)
        .where('address', '=', walletOf(principal))
        .executeTakeFirst()
      if (!session) throw notFound(`you have no session ${input.id}`)
      await revokeSession(w, session.id)
      return { data: null, message: 'Session ended' }
    },
  }),
  route({
    method: 'GET',
    path: '/v1/me/api-key',
    access: 'wallet',
    summary: 'Issues the wallet\'s API key (shown once; 400 while one is active)',
    async handle({ w, principal }) {
      return { data: await issueWalletKey(w, walletOf(principal)), message: 'API key generated' }
    },
  }),
  route({
    method: 'POST',
    path: '/v1/me/api-key/disable',
    access: 'wallet',
    summary: 'Revokes the wallet\'s API key',
    async handle({ w, principal }) {
      const disabled = await disableWalletKey(w, walletOf(principal))
      return { data: null, message: disabled ? 'API key disabled' : 'No active API key' }
    },
  }),
  route({
    method: 'GET',
    path: '/v1/me/api-key/last-issued',
    access: 'wallet',
    summary: 'When the wallet\'s active API key was issued (unix seconds), null without one',
    async handle({ w, principal }) {
      return { data: { issued_at: await walletKeyIssuedAt(w, walletOf(principal)) }, message: 'Last API key issued at' }
    },
  }),
]

const projectAdmin = { org: ['owner', 'admin'], project: ['admin'] } as const

const projectKeys: WriteRoute[] = [
  route({
    method: 'POST',
    path: '/v1/projects/:id/keys',
    access: 'wallet',
    summary: 'Creates a scoped API key for the project (shown once), with a role and an optional monthly spend limit in tUSDT base units',
    input: z.object({ id, name: displayName.optional(), role: projectRole, monthly_limit: amount.optional() }),
    async handle({ w, c, input, principal }) {
      refuseIdempotencyKey(c)
      const wallet: Address = walletOf(principal)
      const { project } = await requireProjectAccess(w, input.id, wallet, projectAdmin)
      const key = await createScopedKey(w, project, wallet, {
        role: input.role,
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.monthly_limit !== undefined ? { monthlyLimit: input.monthly_limit } : {}),
      })
      return { status: 201, data: key, message: 'API key created; it is shown only now' }
    },
  }),
  route({
    method: 'GET',
    path: '/v1/projects/:id/keys',
    access: 'wallet',
    summary: 'The project\'s scoped API keys (never the keys themselves)',
    input: z.object({ id }),
    async handle({ w, input, principal }) {
      const { project } = await requireProjectAccess(w, input.id, walletOf(principal), projectAdmin)
      return { data: await listScopedKeys(w, project), message: 'API keys fetched' }
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/projects/:id/keys/:keyId',
    access: 'wallet',
    summary: 'Revokes a scoped API key of the project',
    input: z.object({ id, keyId: id }),
    async handle({ w, input, principal }) {
      const { project } = await requireProjectAccess(w, input.id, walletOf(principal), projectAdmin)
      return { data: await revokeScopedKey(w, project, input.keyId), message: 'API key revoked' }
    },
  }),
]

/** The routes of sign-in, logout, me, API keys. */
export const authRoutes: WriteRoute[] = [...authentication, ...me, ...projectKeys]
