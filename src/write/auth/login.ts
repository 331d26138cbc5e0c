/**
 * POST /api/v1/auth/login: a wallet proves it holds its address by signing a nonce we issued,
 * either the raw nonce (v1's personal_sign) or a SIWE message carrying it; ordinary accounts
 * and smart-contract wallets alike. The nonce is consumed only by a successful login, by one
 * conditional UPDATE, so it can never serve twice. Then the account and a session are recorded.
 */
import type { Address, Hex } from 'viem'
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'
import { consumeNonce, nonceState, outstandingNonces, type NonceState } from './nonces.js'
import { createSession } from './sessions.js'
import { checkSiweMessage } from './siwe.js'
import { findSignedMessage } from './wallet-signatures.js'

export interface LoginRequest {
  address?: Address
  signature: Hex
  /** A SIWE (EIP-4361) message; without it the signature is of the raw nonce. */
  message?: string
  /** The nonce signed (optional: v1 clients do not send it; the address's outstanding nonces are tried). */
  nonce?: string
}

export interface LoginClient {
  host: string
  ip?: string
  userAgent?: string
}

export interface LoggedIn {
  address: Address
  token: string
  method: 'personal_sign' | 'siwe'
}

const refuse = (message: string, code = 'invalid_signature') => new WriteError(401, message, code)

const GET_A_NEW_NONCE = 'get a new one from GET /api/v1/auth/nonce'

function nonceRefusal(state: Exclude<NonceState, 'usable'>): WriteError {
  switch (state) {
    case 'used': return refuse(`this nonce was already used to sign in; ${GET_A_NEW_NONCE}`, 'nonce_used')
    case 'expired': return refuse(`this nonce has expired (nonces are valid for 5 minutes); ${GET_A_NEW_NONCE}`, 'nonce_expired')
    case 'unknown': return refuse(`this nonce was not issued to this address (or has expired and been forgotten); ${GET_A_NEW_NONCE}`, 'nonce_unknown')
  }
}

export async function logIn(w: WriteContext, request: LoginRequest, client: LoginClient): Promise<LoggedIn> {
  let address: Address
  let nonce: string
  let method: LoggedIn['method']
  if (request.message !== undefined) {
    const siwe = checkSiweMessage(w, request.message, { host: client.host, ...(request.address ? { address: request.address } : {}) })
    address = siwe.address
    nonce = siwe.nonce
    method = 'siwe'
    const state = await nonceState(w, nonce, address)
    if (state !== 'usable') throw nonceRefusal(state)
    if (!(await findSignedMessage(w, address, [request.message], request.signature))) {
      throw refuse(`the signature is not ${address}'s signature of this message`)
    }
  } else {
    if (!request.address) throw new WriteError(400, 'address: is required', 'invalid_argument')
    address = request.address
    method = 'personal_sign'
    let candidates: string[]
    if (request.nonce !== undefined) {
      const state = await nonceState(w, request.nonce, address)
      if (state !== 'usable') throw nonceRefusal(state)
      candidates = [request.nonce]
    } else {
      candidates = await outstandingNonces(w, address)
      if (candidates.length === 0) {
        throw refuse(`${address} has no unused nonce: nonces are single use and valid for 5 minutes; ${GET_A_NEW_NONCE}`, 'nonce_unknown')
      }
    }
    const signed = await findSignedMessage(w, address, candidates, request.signature)
    if (!signed) throw refuse(`the signature is not ${address}'s personal_sign of a nonce issued to it (it was signed by another account, or of another message)`)
    nonce = signed
  }

  if (!(await consumeNonce(w, nonce, address))) throw refuse(`this nonce was used by another sign-in at the same moment; ${GET_A_NEW_NONCE}`, 'nonce_used')
  const now = w.now()
  await w.db
    .insertInto('app.accounts')
    .values({ address, created_at: now, last_login_at: now })
    .onConflict((oc) => oc.column('address').doUpdateSet({ last_login_at: now }))
    .execute()
  const session = await createSession(w, address, { ...(client.ip ? { ip: client.ip } : {}), ...(client.userAgent ? { userAgent: client.userAgent } : {}) })
  return { address, token: session.token, method }
}
