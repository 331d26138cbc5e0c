/**
 * The live event feed behind gRPC StreamEvents and the WebSocket: a subscription replays the
 * matching events from the database from a block on, then follows the indexer's notifications.
 * When a reorg removes blocks whose events were already sent, the subscriber gets a `rollback`
 * (to the common ancestor) before the events of the new branch.
 *
 * Each subscription pulls from the database at its own pace: a notification only moves its
 * target block, so a slow consumer lags (and catches up later) instead of buffering without
 * bound, and nothing is skipped or sent twice between replay and live.
 */
import type { IndexNotificationListener } from '../cache/index.js'
import type { ReadContext } from './context.js'
import { readEvents, type EventFilter, type EventPosition } from './events.js'
import type { EventView } from './views.js'

export type FeedMessage =
  | { type: 'event'; event: EventView }
  /** Events after `to_block` that were sent are gone: the chain reorganised; the new branch follows. */
  | { type: 'rollback'; to_block: number }
  /** The replay reached the indexed head; live events follow. Sent once. */
  | { type: 'caught_up'; block: number }

export interface SubscribeOptions {
  /** First block to replay; default: only new events (after the indexed head). */
  fromBlock?: number
  filter: EventFilter
  signal: AbortSignal
}

export interface EventFeed {
  subscribe(options: SubscribeOptions): AsyncGenerator<FeedMessage>
}

const END_OF_BLOCK = 2 ** 31 - 1
const PAGE = 500

async function indexedBlock(ctx: ReadContext): Promise<number> {
  const row = await ctx.db.selectFrom('chain.checkpoints').select('block_number').where('chain_id', '=', ctx.chainId).executeTakeFirst()
  return row ? Number(row.block_number) : -1
}

export function createEventFeed(ctx: ReadContext, notifications: IndexNotificationListener): EventFeed {
  return {
    async *subscribe({ fromBlock, filter, signal }) {
      let target = -1
      let rollbackTo: number | undefined
      let recheck = false
      let wake: (() => void) | undefined
      const nudge = () => { wake?.(); wake = undefined }
      const unsubscribe = notifications.subscribe({
        onNotification(n) {
          if (n.reorg) {
            rollbackTo = Math.min(rollbackTo ?? Infinity, n.fromBlock - 1)
            target = Math.min(target, n.fromBlock - 1)
          } else {
            target = Math.max(target, n.toBlock)
          }
          nudge()
        },
        // Notifications may have been missed: ask the database where the index is.
        onReconnect() { recheck = true; nudge() },
      })
      const onAbort = () => nudge()
      signal.addEventListener('abort', onAbort)
      try {
        const head = await indexedBlock(ctx)
        target = Math.max(target, head)
        let position: EventPosition = { block: (fromBlock ?? head + 1) - 1, logIndex: END_OF_BLOCK }
        let lastSentBlock = -1
        let caughtUp = false
        while (!signal.aborted) {
          if (recheck) {
            recheck = false
            const now = await indexedBlock(ctx)
            if (now < position.block) rollbackTo = Math.min(rollbackTo ?? Infinity, now)
            target = now
          }
          if (rollbackTo !== undefined) {
            const to = rollbackTo
            rollbackTo = undefined
            if (position.block > to) position = { block: to, logIndex: END_OF_BLOCK }
            if (lastSentBlock > to) {
              lastSentBlock = to
              yield { type: 'rollback', to_block: to }
            }
            continue
          }
          if (position.block < target || (position.block === target && position.logIndex < END_OF_BLOCK)) {
            const upTo = target
            const events = await readEvents(ctx, { ...filter, after: position, toBlock: upTo, limit: PAGE })
            for (const event of events) {
              if (signal.aborted || rollbackTo !== undefined) break
              position = { block: event.block_number, logIndex: event.log_index }
              lastSentBlock = event.block_number
              yield { type: 'event', event }
            }
            if (events.length < PAGE && rollbackTo === undefined && !signal.aborted) position = { block: upTo, logIndex: END_OF_BLOCK }
            continue
          }
          if (!caughtUp) {
            caughtUp = true
            yield { type: 'caught_up', block: Math.min(position.block, target) }
            continue
          }
          await new Promise<void>((resolve) => { wake = resolve })
        }
      } finally {
        unsubscribe()
        signal.removeEventListener('abort', onAbort)
      }
    },
  }
}
