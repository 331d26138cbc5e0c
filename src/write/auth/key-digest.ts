/**
 * What is stored of an API key: its SHA-256 digest (looked up by equality, so no secret is
 * ever compared in JavaScript) and a hint of its last four characters for people to tell keys
 * apart. The key itself is shown once, when it is issued.
 */
import { createHash } from 'node:crypto'
import type { WriteContext } from '../context.js'

export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

export function keyHint(key: string): string {
  return key.slice(-4)
}

/** last_used_at is written at most this often per key, not on every request. */
export const LAST_USED_RESOLUTION_MS = 60_000

/** Records a use of key `id` when its last recorded use is older than LAST_USED_RESOLUTION_MS. */
export async function markKeyUsed(w: Pick<WriteContext, 'db' | 'now'>, id: string, lastUsedAt: Date | null): Promise<void> {
  const now = w.now()
  if (lastUsedAt && now.getTime() - lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return
  const staleBefore = new Date(now.getTime() - LAST_USED_RESOLUTION_MS)
  await w.db
    .updateTable('app.api_keys')
    .set({ last_used_at: now })
    .where('id', '=', id)
    // Another replica may have recorded the use meanwhile.
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', staleBefore)]))
    .execute()
}

/** A unique-constraint violation (PostgreSQL and PGlite both report SQLSTATE 23505). */
export function isUniqueViolation(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === '23505') return true
  }
  return false
}
