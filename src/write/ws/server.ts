/**
 * The gateway's WebSocket JSON-RPC endpoint at /api/v1beta/ws, on the gateway's own HTTP server:
 * an upgrade of any other path is answered 404 without upgrading. One RpcSession per
 * connection; a heartbeat ping drops dead peers, and a connection that has not authenticated in
 * time is closed (4401).
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { randomUUID } from 'node:crypto'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Logger } from '../../obs/index.js'
import type { OrgEventHub } from '../events/index.js'
import type { ChatDeps } from '../inference/chat/run-chat.js'
import { errorMessage, RPC_PATH, RpcCode, RpcError } from './protocol.js'
import { DEFAULT_RPC_LIMITS, RpcSession, type RpcClient, type RpcLimits } from './session.js'

export interface RpcSocketOptions {
  chat: ChatDeps
  /** The organization events for `subscribe`; null when the gateway has no LISTEN connection. */
  events: OrgEventHub | null
  logger: Logger
  /** Trust X-Forwarded-For for the client's IP (behind a load balancer). */
  proxy?: boolean
  limits?: Partial<RpcLimits>
}

export interface RpcSocket {
  /** Closes every connection (1001) and stops answering upgrades. */
  close(): Promise<void>
}

/** Close code of a connection that did not authenticate in time. */
export const CLOSE_UNAUTHENTICATED = 4401

const CLOSE_GRACE_MS = 1_000

function clientOf(request: IncomingMessage, proxy: boolean): RpcClient {
  const forwarded = proxy ? String(request.headers['x-forwarded-for'] ?? '').split(',')[0]?.trim() : undefined
  const ip = forwarded || request.socket.remoteAddress
  const userAgent = request.headers['user-agent']
  return { host: request.headers.host ?? '', ...(ip ? { ip } : {}), ...(userAgent ? { userAgent } : {}) }
}

export function attachRpcSocket(server: Server, options: RpcSocketOptions): RpcSocket {
  const limits: RpcLimits = { ...DEFAULT_RPC_LIMITS, ...options.limits }
  const logger = options.logger.child({ component: 'ws-rpc' })
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxPayloadBytes })

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== RPC_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(request, socket, head, (ws) => serve(ws, clientOf(request, options.proxy ?? false)))
  }
  server.on('upgrade', onUpgrade)

  const serve = (ws: WebSocket, client: RpcClient) => {
    const connectionLogger = logger.child({ connection: randomUUID() })
    const authTimer = setTimeout(() => ws.close(CLOSE_UNAUTHENTICATED, `authenticate within ${Math.round(limits.authTimeoutMs / 1000)} seconds`), limits.authTimeoutMs)
    const session = new RpcSession(ws, { chat: options.chat, events: options.events, limits }, client, connectionLogger, () => clearTimeout(authTimer))
    let alive = true
    const heartbeat = setInterval(() => {
      if (!alive) return ws.terminate()
      alive = false
      ws.ping()
    }, limits.heartbeatMs)
    ws.on('pong', () => {
      alive = true
    })
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        void session.send(errorMessage(null, new RpcError(RpcCode.invalidRequest, 'invalid request: send JSON-RPC requests as text messages')))
        return
      }
      session.receive(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8'))
    })
    ws.on('error', (err) => connectionLogger.debug({ reason: err.message }, 'WebSocket error'))
    ws.on('close', () => {
      clearTimeout(authTimer)
      clearInterval(heartbeat)
      session.close()
    })
  }

  return {
    close: () =>
      new Promise((resolve) => {
        server.off('upgrade', onUpgrade)
        for (const client of wss.clients) client.close(1001, 'server shutting down')
        // A peer that does not answer the close handshake is not waited for.
        const drop = setTimeout(() => {
          for (const client of wss.clients) client.terminate()
        }, CLOSE_GRACE_MS)
        wss.close(() => {
          clearTimeout(drop)
          resolve()
        })
      }),
  }
}
