/**
 * HS256 JSON Web Tokens, the only algorithm accepted: a token whose header names another
 * (`none` included) is refused before its signature is looked at. Signatures are compared in
 * constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export interface SessionClaims {
  /** The wallet, lowercased. */
  sub: `0x${string}`
  /** The session (app.sessions.id): revoked sessions refuse their tokens. */
  sid: string
  iat: number
  exp: number
}

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError'
}

const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))

function base64url(text: string | Buffer): string {
  return Buffer.from(text).toString('base64url')
}

function sign(input: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(input).digest()
}

export function signJwt(claims: SessionClaims, secret: string): string {
  const body = `${header}.${base64url(JSON.stringify(claims))}`
  return `${body}.${sign(body, secret).toString('base64url')}`
}

/** The claims of a token signed with `secret` that has not expired at `nowSeconds`; throws InvalidTokenError saying why not. */
export function verifyJwt(token: string, secret: string, nowSeconds: number): SessionClaims {
  const parts = token.split('.')
  if (parts.length !== 3) throw new InvalidTokenError('the token is not a JWT')
  const [head, payload, signature] = parts as [string, string, string]
  let decodedHeader: { alg?: unknown; typ?: unknown }
  try {
    decodedHeader = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as typeof decodedHeader
  } catch {
    throw new InvalidTokenError('the token header is not JSON')
  }
  if (decodedHeader.alg !== 'HS256') throw new InvalidTokenError(`tokens are signed with HS256; this one says ${JSON.stringify(decodedHeader.alg ?? null)}`)
  const expected = sign(`${head}.${payload}`, secret)
  const presented = Buffer.from(signature, 'base64url')
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) throw new InvalidTokenError('the token signature is not valid')
  let claims: Partial<SessionClaims>
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<SessionClaims>
  } catch {
    throw new InvalidTokenError('the token payload is not JSON')
  }
  if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string' || typeof claims.exp !== 'number' || typeof claims.iat !== 'number') {
    throw new InvalidTokenError('the token lacks sub, sid, iat or exp')
  }
  if (claims.exp <= nowSeconds) throw new InvalidTokenError('the token has expired; sign in again')
  return claims as SessionClaims
}
