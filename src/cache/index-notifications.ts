/**
 * Follows the indexer's NOTIFY (see indexer/database/commit.ts) for one chain: drops the hot
 * cache's entries for the tables each commit touched and passes the notification on (to the
 * live event feed). While the LISTEN connection is down, notifications may be missed, so the
 * cache is switched off until it is back, and then starts empty.
 */
import { z } from 'zod'
import { INDEX_CHANNEL, type IndexNotification } from '../../indexer/index.js'
import type { DatabaseHandle } from '../db/index.js'
import type { Logger } from '../obs/index.js'
import type { HotCache } from './hot-cache.js'

const notificationSchema = z.object({
  chainId: z.number().int(),
  fromBlock: z.number().int(),
  toBlock: z.number().int(),
  tables: z.array(z.string()),
  reorg: z.boolean().optional(),
})

export interface IndexNotificationListener {
  /** Calls `handler` for every notification of the chain (and `onReconnect` when some may have been missed); returns an unsubscribe. */
  subscribe(handler: { onNotification(n: IndexNotification): void; onReconnect?(): void }): () => void
  close(): Promise<void>
}

export async function listenForIndexNotifications(
  database: Pick<DatabaseHandle, 'listen'>, chainId: number, options: { cache?: HotCache; logger?: Logger },
): Promise<IndexNotificationListener> {
  const subscribers = new Set<{ onNotification(n: IndexNotification): void; onReconnect?(): void }>()
  let everListened = false
  const listener = await database.listen(INDEX_CHANNEL, {
    onMessage(payload) {
      let notification: IndexNotification
      try {
        notification = notificationSchema.parse(JSON.parse(payload))
      } catch {
        options.logger?.warn({ payload: payload.slice(0, 200) }, `ignored a malformed ${INDEX_CHANNEL} notification`)
        return
      }
      if (notification.chainId !== chainId) return
      options.cache?.invalidate(notification.tables)
      for (const subscriber of subscribers) subscriber.onNotification(notification)
    },
    onState(state) {
      if (state === 'lost') {
        options.cache?.setEnabled(false)
        options.logger?.warn('index notifications lost: the hot cache is off until they are back')
        return
      }
      options.cache?.setEnabled(true)
      if (everListened) {
        options.logger?.info('index notifications back: the hot cache starts empty')
        for (const subscriber of subscribers) subscriber.onReconnect?.()
      }
      everListened = true
    },
  })
  return {
    subscribe(handler) {
      subscribers.add(handler)
      return () => void subscribers.delete(handler)
    },
    close: () => listener.close(),
  }
}
