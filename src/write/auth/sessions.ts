/**
 * Sessions: each issued JWT names a row of app.sessions (`sid`), so logout and revocation end
 * a token before it expires, on every replica.
 */
import { randomUUID } from 'node:crypto'
import type { Address } from 'viem'
import type { WriteContext } from '../context.js'
import { InvalidTokenError, signJwt, verifyJwt } from './jwt.js'

/** v1's token lifetime. */
export const SESSION_TTL_SECONDS = 3 * 24 * 60 * 60

export interface IssuedSession {
  token: string
  sessionId: string
  expiresAt: Date
}

export async function createSession(
  w: Pick<WriteContext, 'db' | 'jwtSecret' | 'now'>, address: Address, client: { ip?: string; userAgent?: string },
): Promise<IssuedSession> {
  const now = w.now()
  const iat = Math.floor(now.getTime() / 1000)
  const exp = iat + SESSION_TTL_SECONDS
  const sessionId = randomUUID()
  const expiresAt = new Date(exp * 1000)
  await w.db
    .insertInto('app.sessions')
    .values({ id: sessionId, address, ip: client.ip ?? null, user_agent: client.userAgent?.slice(0, 512) ?? null, created_at: now, expires_at: expiresAt })
    .execute()
  return { token: signJwt({ sub: address, sid: sessionId, iat, exp }, w.jwtSecret), sessionId, expiresAt }
}

/** The session a token belongs to, if the token is valid and the session neither revoked nor expired; throws InvalidTokenError otherwise. */
export async function verifySessionToken(w: Pick<WriteContext, 'db' | 'jwtSecret' | 'now'>, token: string): Promise<{ address: Address; sessionId: string }> {
  const now = w.now()
  const claims = verifyJwt(token, w.jwtSecret, Math.floor(now.getTime() / 1000))
  const session = await w.db
    .selectFrom('app.sessions')
    .select(['address', 'expires_at', 'revoked_at'])
    .where('id', '=', claims.sid)
    .executeTakeFirst()
  if (!session || session.address !== claims.sub) throw new InvalidTokenError('the session of this token does not exist')
  if (session.revoked_at) throw new InvalidTokenError('this session has ended (logged out or revoked); sign in again')
  if (session.expires_at <= now) throw new InvalidTokenError('the session has expired; sign in again')
  return { address: claims.sub, sessionId: claims.sid }
}

export async function revokeSession(w: Pick<WriteContext, 'db' | 'now'>, sessionId: string): Promise<boolean> {
  const result = await w.db
    .updateTable('app.sessions')
    .set({ revoked_at: w.now() })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return result.numUpdatedRows > 0n
}

/** Ends every session of a wallet (after a key compromise, say). */
export async function revokeSessionsOf(w: Pick<WriteContext, 'db' | 'now'>, address: Address): Promise<number> {
  const result = await w.db.updateTable('app.sessions').set({ revoked_at: w.now() }).where('address', '=', address).where('revoked_at', 'is', null).executeTakeFirst()
  return Number(result.numUpdatedRows)
}
