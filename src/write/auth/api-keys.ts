/**
 * API keys: v1's `sk-…` wallet keys (wallet-keys.ts) and scoped project keys (scoped-keys.ts),
 * both stored as digests and verified for real. A key's secret part is never logged.
 */
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'
import type { Principal } from './principal.js'
import { isScopedKeyShape, verifyScopedKey } from './scoped-keys.js'
import { isWalletKeyShape, verifyWalletKey } from './wallet-keys.js'

/** The principal an API key stands for, or throws a 401 WriteError saying why the key is refused. */
export async function verifyApiKey(w: WriteContext, key: string): Promise<Principal> {
  if (isScopedKeyShape(key)) return verifyScopedKey(w, key)
  if (isWalletKeyShape(key)) return verifyWalletKey(w, key)
  throw new WriteError(401, 'the API key is malformed: expected sk-proj-… (a project key) or sk-{address}.{uuid}.{signature} (a wallet key)', 'invalid_api_key')
}
