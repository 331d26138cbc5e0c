import type { Context } from 'koa'
import type { Caller, CallerIdentifier } from '../../api/middleware/index.js'
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'
import { verifyApiKey } from './api-keys.js'
import { InvalidTokenError } from './jwt.js'
import { keyDigest } from './key-digest.js'
import type { Principal } from './principal.js'
import { verifySessionToken } from './sessions.js'

/** `sk-` keys (v1's wallet keys and scoped keys); anything else presented as a bearer token is a session JWT. */
export function isApiKey(token: string): boolean {
  return token.startsWith('sk-')
}

/** The credential a request presents: `Authorization: Bearer <JWT or sk- key>`, or `X-API-Key: <sk- key>`. */
export function presentedCredential(c: Pick<Context, 'get'>): string | undefined {
  const authorization = c.get('authorization')
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (!match) throw new WriteError(401, 'Authorization must be "Bearer <token or API key>"')
    return match[1]!
  }
  return c.get('x-api-key').trim() || undefined
}

/**
 * Verifies a presented credential; a wrong one is a 401 WriteError saying why. A verified one is
 * remembered for a moment in the call cache (by its digest): a revocation or logout applies at
 * once on the replica that made it (a write route clears the cache), within a second elsewhere.
 */
export function authenticate(w: WriteContext, credential: string): Promise<Principal> {
  return w.callCache.get(`auth:${keyDigest(credential).toString('base64')}`, () => verifyCredential(w, credential))
}

async function verifyCredential(w: WriteContext, credential: string): Promise<Principal> {
  if (isApiKey(credential)) return verifyApiKey(w, credential)
  try {
    return { kind: 'session', ...(await verifySessionToken(w, credential)) }
  } catch (err) {
    if (err instanceof InvalidTokenError) throw new WriteError(401, err.message, 'invalid_token')
    throw err
  }
}

const SIGN_IN_PATHS: ReadonlySet<string> = new Set(['/api/v1/auth/nonce', '/api/v1/auth/login'])

/**
 * The rate limiter's view of the caller, which also authenticates: sets `ctx.state.principal`
 * when credentials are presented and valid. Budgets: per wallet for sessions and wallet keys,
 * per key for scoped keys, per IP for anonymous callers (and for wrong credentials, which the
 * limiter charges to the IP before answering 401).
 */
export function createGatewayIdentifier(w: WriteContext): CallerIdentifier {
  return {
    async identify(c): Promise<Caller> {
      let principal: Principal
      try {
        const credential = presentedCredential(c)
        if (!credential) return { kind: 'anonymous', id: c.ip }
        principal = await authenticate(w, credential)
      } catch (err) {
        // A client that still sends its expired token must be able to sign in again (v1 ignored
        // credentials there too): on the sign-in routes a refused credential is no credential.
        if (err instanceof WriteError && err.status === 401 && SIGN_IN_PATHS.has((c as Context).path)) return { kind: 'anonymous', id: c.ip }
        throw err
      }
      ;(c as Context).state.principal = principal
      return principal.kind === 'scopedKey' ? { kind: 'apiKey', id: `key:${principal.keyId}` } : { kind: 'wallet', id: principal.address }
    },
  }
}
