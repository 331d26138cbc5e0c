/**
 * Sign-in nonces: UUIDs issued to an address, stored in app.nonces so every replica sees
 * them, valid for five minutes and usable once. A login consumes its nonce with one
 * conditional UPDATE, so two concurrent logins with the same nonce cannot both pass.
 */
import { randomUUID } from 'node:crypto'
import type { Address } from 'viem'
import type { WriteContext } from '../context.js'

export const NONCE_TTL_MS = 5 * 60_000

/** How many of an address's outstanding nonces a v1 login (which names none) is checked against. */
export const MAX_CANDIDATE_NONCES = 5

type Db = Pick<WriteContext, 'db' | 'now'>

export interface IssuedNonce {
  nonce: string
  expiresAt: Date
}

export async function issueNonce(w: Db, address: Address): Promise<IssuedNonce> {
  const now = w.now()
  // Housekeeping: expired nonces are of no use to anyone (a replay of one is refused as unknown).
  await w.db.deleteFrom('app.nonces').where('expires_at', '<=', now).execute()
  const nonce = randomUUID()
  const expiresAt = new Date(now.getTime() + NONCE_TTL_MS)
  await w.db.insertInto('app.nonces').values({ nonce, address, created_at: now, expires_at: expiresAt }).execute()
  return { nonce, expiresAt }
}

/** The address's unused, unexpired nonces, newest first. */
export async function outstandingNonces(w: Db, address: Address, limit = MAX_CANDIDATE_NONCES): Promise<string[]> {
  const rows = await w.db
    .selectFrom('app.nonces')
    .select('nonce')
    .where('address', '=', address)
    .where('used_at', 'is', null)
    .where('expires_at', '>', w.now())
    .orderBy('created_at', 'desc')
    .limit(limit)
    .execute()
  return rows.map((r) => r.nonce)
}

export type NonceState = 'usable' | 'unknown' | 'used' | 'expired'

/** Why a nonce can or cannot sign `address` in (for a clear refusal; consumeNonce decides). */
export async function nonceState(w: Db, nonce: string, address: Address): Promise<NonceState> {
  const row = await w.db.selectFrom('app.nonces').select(['address', 'used_at', 'expires_at']).where('nonce', '=', nonce).executeTakeFirst()
  if (!row || row.address !== address) return 'unknown'
  if (row.used_at) return 'used'
  if (row.expires_at <= w.now()) return 'expired'
  return 'usable'
}

/** Marks the nonce used if it is still usable by `address`; false if it was not (used meanwhile, expired, unknown). */
export async function consumeNonce(w: Db, nonce: string, address: Address): Promise<boolean> {
  const now = w.now()
  const row = await w.db
    .updateTable('app.nonces')
    .set({ used_at: now })
    .where('nonce', '=', nonce)
    .where('address', '=', address)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning('nonce')
    .executeTakeFirst()
  return row !== undefined
}

/**
 * EIP-4361 nonces are alphanumeric, so a SIWE message carries our UUID without its hyphens;
 * this gives the UUID back (undefined for anything else).
 */
export function nonceOfSiwe(siweNonce: string): string | undefined {
  const hex = siweNonce.toLowerCase()
  if (!/^[0-9a-f]{32}$/.test(hex)) return undefined
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export function siweNonceOf(nonce: string): string {
  return nonce.replaceAll('-', '')
}
