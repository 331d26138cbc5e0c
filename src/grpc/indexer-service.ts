/**
 * haithe.v1.IndexerService: the indexer's status, and StreamEvents over the live event feed.
 *
 * A stream pulls the next feed message only when grpc-js took the previous one (a full write
 * buffer waits for 'drain'), so a slow client slows its own subscription and nothing else. It
 * stops when the client cancels or its deadline passes ('cancelled'), and ends with OK when the
 * server shuts down (see `StreamRegistry`).
 */
import { status, type ServerWritableStream } from '@grpc/grpc-js'
import { eventSubscription, parseParams, type FeedMessage } from '../read/index.js'
import { unary, type ServiceContext } from './calls.js'
import { toServiceError } from './errors.js'
import type { IndexerServiceServer, StreamEventsRequest, StreamEventsResponse } from './gen/haithe/v1/indexer.js'
import { eventMessage, indexerStatusMessage } from './messages.js'

export const INDEXER_SERVICE = 'haithe.v1.IndexerService'

/** The open streams, so that shutdown can end them. */
export interface StreamRegistry {
  /** Aborts every open stream and resolves when each has ended. */
  endAll(): Promise<void>
  /** Runs `stream` under a signal that aborts on shutdown; refuses new streams once ending. */
  track(stream: (signal: AbortSignal) => Promise<void>): Promise<void> | undefined
}

export function createStreamRegistry(): StreamRegistry {
  const open = new Map<AbortController, Promise<void>>()
  let ending = false
  return {
    track(stream) {
      if (ending) return undefined
      const controller = new AbortController()
      const done = stream(controller.signal).finally(() => open.delete(controller))
      open.set(controller, done)
      return done
    },
    async endAll() {
      ending = true
      for (const controller of open.keys()) controller.abort()
      await Promise.allSettled([...open.values()])
    },
  }
}

function responseOf(message: FeedMessage): StreamEventsResponse {
  switch (message.type) {
    case 'event': return { event: eventMessage(message.event) }
    case 'rollback': return { rollback: { to_block: message.to_block } }
    case 'caught_up': return { caught_up: { block: message.block } }
  }
}

/** Resolves when the call's write buffer drained, the call closed, or `signal` aborted. */
function drained(call: ServerWritableStream<StreamEventsRequest, StreamEventsResponse>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done)
      call.off('close', done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    call.once('drain', done)
    call.once('close', done)
    signal.addEventListener('abort', done, { once: true })
  })
}

export function indexerService(ctx: ServiceContext, streams: StreamRegistry): IndexerServiceServer {
  const method = 'StreamEvents'

  async function streamEvents(call: ServerWritableStream<StreamEventsRequest, StreamEventsResponse>, shutdown: AbortSignal): Promise<void> {
    const controller = new AbortController()
    const stop = () => controller.abort()
    call.once('cancelled', stop)
    call.once('close', stop)
    shutdown.addEventListener('abort', stop, { once: true })
    try {
      const r = call.request
      const request = parseParams(eventSubscription, {
        ...(r.kinds.length > 0 ? { kinds: r.kinds } : {}),
        ...(r.addresses.length > 0 ? { addresses: r.addresses } : {}),
        ...(r.from_block !== undefined ? { from_block: r.from_block } : {}),
      })
      const messages = ctx.feed.subscribe({
        ...(request.from_block !== undefined ? { fromBlock: request.from_block } : {}),
        filter: { ...(request.kinds ? { kinds: [...new Set(request.kinds)] } : {}), ...(request.addresses ? { addresses: request.addresses } : {}) },
        signal: controller.signal,
      })
      for await (const message of messages) {
        if (controller.signal.aborted) break
        if (!call.write(responseOf(message))) await drained(call, controller.signal)
      }
      if (call.cancelled) {
        ctx.record(INDEXER_SERVICE, method, status.CANCELLED)
      } else {
        ctx.record(INDEXER_SERVICE, method, status.OK)
        call.end()
      }
    } catch (error) {
      if (call.cancelled) {
        ctx.record(INDEXER_SERVICE, method, status.CANCELLED)
        return
      }
      const serviceError = toServiceError(error, ctx.logger, `${INDEXER_SERVICE}/${method}`)
      ctx.record(INDEXER_SERVICE, method, serviceError.code)
      call.emit('error', serviceError)
    } finally {
      call.off('cancelled', stop)
      call.off('close', stop)
      shutdown.removeEventListener('abort', stop)
    }
  }

  return {
    getStatus: unary(ctx, INDEXER_SERVICE, 'GetStatus', async () => ({ status: indexerStatusMessage(await ctx.reads.indexerStatus()) })),

    streamEvents(call) {
      const running = streams.track((shutdown) => streamEvents(call, shutdown))
      if (!running) {
        ctx.record(INDEXER_SERVICE, method, status.UNAVAILABLE)
        call.emit('error', { code: status.UNAVAILABLE, details: 'the server is shutting down' })
      }
    },
  }
}
