/** Where the indexer is, as it last reported itself in the database (it may run in another process). */
import { readIndexerStatus } from '../../indexer/index.js'
import type { ReadContext } from './context.js'
import { nowOf } from './context.js'
import { iso, type IndexerStatusView } from './views.js'


/** An indexer reports at least every second while it runs; silence this long means it is gone. */
export const STALE_AFTER_MS = 15_000

export async function getIndexerStatus(ctx: ReadContext): Promise<IndexerStatusView> {
  const [row, checkpoint] = await Promise.all([
    readIndexerStatus(ctx.db, ctx.chainId),
    ctx.db.selectFrom('chain.checkpoints').select('block_number').where('chain_id', '=', ctx.chainId).executeTakeFirst(),
  ])
  const indexed = checkpoint ? Number(checkpoint.block_number) : null
  if (!row) {
    return { chain_id: ctx.chainId, role: 'absent', head: null, indexed, finalized: null, lag: null, events_per_second: 0, rpc_healthy: false, ready: false, error: 'no indexer has reported for this chain', updated_at: null }
  }
  const { head } = row
  const stale = nowOf(ctx).getTime() - row.updatedAt.getTime() > STALE_AFTER_MS
  return {
    chain_id: ctx.chainId,
    role: row.role,
    head,
    indexed,
    finalized: row.finalized,
    lag: head !== null && indexed !== null ? Math.max(0, head - indexed) : null,
    events_per_second: row.eventsPerSecond,
    rpc_healthy: row.rpcHealthy,
    ready: row.ready && !stale,
    error: stale ? `the indexer has not reported since ${iso(row.updatedAt)}` : row.error,
    updated_at: iso(row.updatedAt),
  }
}
