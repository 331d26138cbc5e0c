/**
 * v1's wallet API keys, `sk-{address without 0x}.{uuid}.{signature}`: the server account signs
 * `"{unix_ts}.{address without 0x}.{uuid}"` (personal_sign) when it issues one. One active key per
 * wallet (a partial unique index says so); disabling revokes it. Verified for real: the key's
 * digest must be on record and not revoked, and its signature must recover to the server.
 */
import { randomUUID } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { recoverMessageAddress, type Address, type Hex } from 'viem'
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'
import { isUniqueViolation, keyDigest, keyHint, markKeyUsed } from './key-digest.js'
import type { Principal } from './principal.js'

const recoveredSigners = new LRUCache<string, Address>({ max: 10_000 })

const WALLET_KEY = /^sk-([0-9a-fA-F]{40})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([0-9a-fA-F]{130})$/

export function isWalletKeyShape(key: string): boolean {
  return WALLET_KEY.test(key)
}

function signedText(unixSeconds: number, address: Address, uuid: string): string {
  return `${unixSeconds}.${address.slice(2)}.${uuid}`
}

export interface IssuedWalletKey {
  api_key: string
  /** The text the server signed. */
  message: string
  /** Unix seconds, as v1. */
  issued_at: number
}

export async function issueWalletKey(w: Pick<WriteContext, 'db' | 'account' | 'now'>, address: Address): Promise<IssuedWalletKey> {
  const active = await activeWalletKey(w, address)
  if (active) throw new WriteError(400, 'an API key is already active for this wallet; disable it first (POST /api/v1/me/api-key/disable)', 'api_key_active')
  const issuedAt = Math.floor(w.now().getTime() / 1000)
  const uuid = randomUUID()
  const message = signedText(issuedAt, address, uuid)
  const signature = await w.account.signMessage({ message })
  const apiKey = `sk-${address.slice(2)}.${uuid}.${signature.slice(2)}`
  try {
    await w.db
      .insertInto('app.api_keys')
      // created_at is the signed second exactly: verification rebuilds the signed text from it.
      .values({ kind: 'wallet', address, key_hash: keyDigest(apiKey), hint: keyHint(apiKey), created_at: new Date(issuedAt * 1000) })
      .execute()
  } catch (err) {
    if (isUniqueViolation(err)) throw new WriteError(400, 'an API key is already active for this wallet; disable it first (POST /api/v1/me/api-key/disable)', 'api_key_active')
    throw err
  }
  return { api_key: apiKey, message, issued_at: issuedAt }
}

async function activeWalletKey(w: Pick<WriteContext, 'db'>, address: Address): Promise<{ id: string; created_at: Date } | undefined> {
  return w.db
    .selectFrom('app.api_keys')
    .select(['id', 'created_at'])
    .where('kind', '=', 'wallet')
    .where('address', '=', address)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
}

/** Revokes the wallet's active key; false if it had none. */
export async function disableWalletKey(w: Pick<WriteContext, 'db' | 'now'>, address: Address): Promise<boolean> {
  const result = await w.db
    .updateTable('app.api_keys')
    .set({ revoked_at: w.now() })
    .where('kind', '=', 'wallet')
    .where('address', '=', address)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return result.numUpdatedRows > 0n
}

/** When the wallet's active key was issued (unix seconds), null without one (v1: disabling clears it). */
export async function walletKeyIssuedAt(w: Pick<WriteContext, 'db'>, address: Address): Promise<number | null> {
  const active = await activeWalletKey(w, address)
  return active ? Math.floor(active.created_at.getTime() / 1000) : null
}

export async function verifyWalletKey(w: Pick<WriteContext, 'db' | 'account' | 'now'>, key: string): Promise<Extract<Principal, { kind: 'walletKey' }>> {
  const match = WALLET_KEY.exec(key)
  if (!match) throw new WriteError(401, 'the API key is malformed', 'invalid_api_key')
  const [, addressHex, uuid, signatureHex] = match as unknown as [string, string, string, string]
  const digest = keyDigest(key)
  const row = await w.db
    .selectFrom('app.api_keys')
    .select(['id', 'address', 'created_at', 'revoked_at', 'last_used_at'])
    .where('key_hash', '=', digest)
    .where('kind', '=', 'wallet')
    .executeTakeFirst()
  if (!row) throw new WriteError(401, 'this API key was not issued by this gateway', 'invalid_api_key')
  if (row.revoked_at) throw new WriteError(401, 'this API key has been disabled; issue a new one (GET /api/v1/me/api-key)', 'api_key_revoked')
  const address = `0x${addressHex.toLowerCase()}` as Address
  // The signer of a key never changes (its text and signature are fixed): recovered once per key,
  // not on every call (an ecrecover costs milliseconds). Revocation is still read every time.
  let signer = recoveredSigners.get(digest.toString('hex'))
  if (!signer) {
    signer = await recoverMessageAddress({
      message: signedText(Math.floor(row.created_at.getTime() / 1000), address, uuid),
      signature: `0x${signatureHex}` as Hex,
    }).catch(() => undefined)
    if (signer) recoveredSigners.set(digest.toString('hex'), signer)
  }
  // The digest is on record, so this fails only if the server key changed since (or the row was tampered with).
  if (row.address !== address || signer?.toLowerCase() !== w.account.address.toLowerCase()) {
    throw new WriteError(401, 'this API key was not signed by this gateway\'s current key; issue a new one', 'invalid_api_key')
  }
  await markKeyUsed(w, row.id, row.last_used_at)
  return { kind: 'walletKey', address, keyId: row.id }
}
