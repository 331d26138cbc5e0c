/**
 * `Idempotency-Key` on write routes: the first request with a key runs and its answer is kept;
 * a repeat (same caller, same key) gets that answer again without running, marked
 * `Idempotent-Replayed: true`. A repeat while the first still runs is 409; the same key for
 * another route is 422. A request that fails forgets its key, so it can be retried.
 */
import type { Context } from 'koa'
import type { WriteContext } from '../context.js'
import { WriteError } from './errors.js'
import type { Reply } from './route.js'

const MAX_KEY_LENGTH = 200
const ABANDONED_AFTER_MS = 5 * 60_000

export async function withIdempotencyKey(w: WriteContext, c: Context, run: () => Promise<Reply>): Promise<Reply> {
  const key = c.get('idempotency-key').trim()
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw new WriteError(400, `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters`)
  const caller = c.state.principal ? `${c.state.principal.kind}:${c.state.principal.address}` : `ip:${c.ip}`
  const claimed = await w.db
    .insertInto('app.idempotent_requests')
    .values({ caller, key, method: c.method, path: c.path, status: null, body: null })
    // A claim left unanswered by a process that died is taken over after a while.
    .onConflict((oc) =>
      oc
        .columns(['caller', 'key'])
        .doUpdateSet({ created_at: w.now(), method: c.method, path: c.path })
        .where('app.idempotent_requests.status', 'is', null)
        .where('app.idempotent_requests.created_at', '<', new Date(w.now().getTime() - ABANDONED_AFTER_MS)),
    )
    .returning('key')
    .executeTakeFirst()
  if (!claimed) {
    const earlier = await w.db.selectFrom('app.idempotent_requests').selectAll().where('caller', '=', caller).where('key', '=', key).executeTakeFirstOrThrow()
    if (earlier.method !== c.method || earlier.path !== c.path) {
      throw new WriteError(422, `this Idempotency-Key was used for ${earlier.method} ${earlier.path}; use a new key for another request`)
    }
    if (earlier.status === null) throw new WriteError(409, 'a request with this Idempotency-Key is still being processed; retry in a moment')
    c.set('Idempotent-Replayed', 'true')
    const body = earlier.body as { data: unknown; message: string }
    return { status: earlier.status, data: body.data, message: body.message }
  }
  let reply: Reply
  try {
    reply = await run()
  } catch (err) {
    await w.db.deleteFrom('app.idempotent_requests').where('caller', '=', caller).where('key', '=', key).execute()
    throw err
  }
  await w.db
    .updateTable('app.idempotent_requests')
    .set({ status: reply.status ?? 200, body: JSON.stringify({ data: reply.data ?? null, message: reply.message ?? 'ok' }) })
    .where('caller', '=', caller)
    .where('key', '=', key)
    .execute()
  return reply
}
