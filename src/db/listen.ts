/**
 * LISTEN on a channel of the primary database (NOTIFY does not reach read replicas), kept alive:
 * on PostgreSQL a dedicated connection that reconnects with backoff, telling the caller when it
 * was lost (notifications may have been missed) and when it listens again; on PGlite the
 * embedded instance's own listener, registered during a turn on its single session.
 */
import type { PGlite } from '@electric-sql/pglite'
import type { Kysely } from 'kysely'
import pg from 'pg'
import type { Logger } from 'pino'

export interface ListenHandlers {
  onMessage(payload: string): void
  /** `listening` once connected (again); `lost` when the connection broke. */
  onState?(state: 'listening' | 'lost'): void
}

export interface Listener {
  close(): Promise<void>
}

const quote = (channel: string) => `"${channel.replaceAll('"', '""')}"`

export function listenPostgres(url: string, channel: string, handlers: ListenHandlers, logger?: Logger): Promise<Listener> {
  let closed = false
  let client: pg.Client | undefined
  let retryTimer: NodeJS.Timeout | undefined
  let delayMs = 500

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url, application_name: 'haithe-listen' })
    next.on('notification', (message) => {
      if (message.channel === channel && message.payload !== undefined) handlers.onMessage(message.payload)
    })
    next.on('error', (error) => {
      logger?.warn({ reason: error.message }, `LISTEN ${channel}: connection lost; reconnecting`)
      lost(next)
    })
    next.on('end', () => lost(next))
    await next.connect()
    await next.query(`LISTEN ${quote(channel)}`)
    if (closed) return void next.end().catch(() => {})
    client = next
    delayMs = 500
    handlers.onState?.('listening')
  }

  const lost = (which: pg.Client) => {
    if (client !== which || closed) return
    client = undefined
    handlers.onState?.('lost')
    scheduleRetry()
  }

  const scheduleRetry = () => {
    if (closed || retryTimer) return
    retryTimer = setTimeout(() => {
      retryTimer = undefined
      connect().catch((error: Error) => {
        logger?.warn({ reason: error.message, retryInMs: delayMs }, `LISTEN ${channel}: cannot connect`)
        delayMs = Math.min(delayMs * 2, 10_000)
        scheduleRetry()
      })
    }, delayMs)
  }

  const listener: Listener = {
    async close() {
      closed = true
      clearTimeout(retryTimer)
      await client?.end().catch(() => {})
      client = undefined
    },
  }
  // The first connection must work (the database was just reached); later losses are retried.
  return connect().then(() => listener)
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any schema
export async function listenPGlite(db: Kysely<any>, pglite: PGlite, channel: string, handlers: ListenHandlers): Promise<Listener> {
  // Inside a turn on the session, so LISTEN never lands in another caller's open transaction.
  const unsubscribe = await db.connection().execute(() => pglite.listen(channel, (payload) => handlers.onMessage(payload)))
  handlers.onState?.('listening')
  return { close: () => unsubscribe() }
}
