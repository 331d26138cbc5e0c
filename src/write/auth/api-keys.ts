/**
 * API keys. To be built: v1's `sk-…` wallet keys and scoped keys, verified for real.
 */
import type { WriteContext } from '../context.js'
import type { Principal } from './principal.js'

/** The principal an API key stands for, or throws a 401 WriteError saying why the key is refused. */
export async function verifyApiKey(_w: WriteContext, _key: string): Promise<Principal> {
  throw new Error('not built')
}
