/**
 * The WebSocket live feed at /v1/ws: the same subscriptions as gRPC StreamEvents, as JSON.
 *
 *   → {"type":"subscribe","kinds":["charge"],"addresses":["0x…"],"from_block":0}
 *   ← {"type":"subscribed"} then {"type":"event","event":{…}} …, {"type":"caught_up","block":n},
 *     and {"type":"rollback","to_block":n} when a reorg removed events already sent
 *   ← {"type":"error","code":"invalid_argument","message":"…"} for a bad message
 *
 * A new `subscribe` replaces the previous one. Each message waits until the socket took the
 * previous one, so a slow client slows its own subscription, not the server.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Logger } from '../obs/index.js'
import { eventSubscription, InvalidArgumentError, parseParams, type EventFeed } from '../read/index.js'

export const LIVE_PATH = '/v1/ws'
const HEARTBEAT_MS = 30_000
const MAX_MESSAGE_BYTES = 16 * 1024

export interface LiveSocket {
  close(): Promise<void>
}

export function attachLiveSocket(server: Server, feed: EventFeed, logger: Logger): LiveSocket {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES })
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== LIVE_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(request, socket, head, (ws) => serve(ws))
  }
  server.on('upgrade', onUpgrade)

  const serve = (ws: WebSocket) => {
    let subscription: AbortController | undefined
    let alive = true
    const send = (message: unknown) =>
      new Promise<void>((resolve) => ws.send(JSON.stringify(message), () => resolve()))
    const heartbeat = setInterval(() => {
      if (!alive) return ws.terminate()
      alive = false
      ws.ping()
    }, HEARTBEAT_MS)
    ws.on('pong', () => { alive = true })
    ws.on('close', () => {
      clearInterval(heartbeat)
      subscription?.abort()
    })
    ws.on('message', (data, isBinary) => {
      let request
      try {
        if (isBinary) throw new InvalidArgumentError('message', 'must be a JSON text message')
        let parsed: unknown
        try { parsed = JSON.parse(String(data)) } catch { throw new InvalidArgumentError('message', 'is not JSON') }
        const { type, ...rest } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>
        if (type !== 'subscribe') throw new InvalidArgumentError('type', 'must be "subscribe"')
        request = parseParams(eventSubscription, rest)
      } catch (err) {
        const message = err instanceof InvalidArgumentError ? err.message : 'bad message'
        void send({ type: 'error', code: 'invalid_argument', message })
        return
      }
      subscription?.abort()
      const controller = (subscription = new AbortController())
      void (async () => {
        await send({ type: 'subscribed' })
        try {
          const messages = feed.subscribe({
            ...(request.from_block !== undefined ? { fromBlock: request.from_block } : {}),
            filter: { ...(request.kinds ? { kinds: request.kinds } : {}), ...(request.addresses ? { addresses: request.addresses } : {}) },
            signal: controller.signal,
          })
          for await (const message of messages) {
            if (controller.signal.aborted || ws.readyState !== ws.OPEN) break
            await send(message)
          }
        } catch (err) {
          if (controller.signal.aborted) return
          logger.error({ err }, 'live feed subscription failed')
          await send({ type: 'error', code: 'unavailable', message: 'the feed failed; subscribe again' })
        }
      })()
    })
  }

  return {
    close: () =>
      new Promise((resolve) => {
        server.off('upgrade', onUpgrade)
        for (const client of wss.clients) client.close(1001, 'server shutting down')
        wss.close(() => resolve())
      }),
  }
}
