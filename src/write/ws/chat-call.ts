/**
 * The `chat` method: one runChat call whose streamed answer goes out as `chat.chunk`
 * notifications named by the call's id (`{ id, chunk }`, or `{ id, error }` for a failure after
 * the first chunk). Its result: the completion, or for a stream `{ done: true }` once the answer
 * is complete (`{ done: false }` after a mid-stream error); either way with `request_id` (the
 * prefix of the `request_id` its `usage` event carries) and `conversation` when memory is kept.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from '../../obs/index.js'
import type { CallerContext } from '../inference/caller-context.js'
import { checkChatRequest, runChat, type ChatDeps } from '../inference/chat/run-chat.js'
import type { EventSink } from '../inference/stream-relay.js'
import { notificationMessage, type RpcId } from './protocol.js'

export interface ChatCallOptions {
  id: RpcId
  caller: CallerContext
  request: Record<string, unknown>
  conversation: string | undefined
  signal: AbortSignal
  logger: Logger
  /** Sends a message on the socket; resolves when the socket took it. */
  send(message: unknown): Promise<void>
}

const isErrorEvent = (event: unknown): event is { error: unknown } =>
  typeof event === 'object' && event !== null && 'error' in event && !('choices' in event)

export async function runChatCall(deps: ChatDeps, options: ChatCallOptions): Promise<unknown> {
  const { id, send } = options
  const request = checkChatRequest(options.request)
  const requestId = `ws-${randomUUID()}`
  let complete = false
  const sink: EventSink = {
    open: () => {},
    send: (event) => send(notificationMessage('chat.chunk', isErrorEvent(event) ? { id, error: event.error } : { id, chunk: event })),
    done: async () => void (complete = true),
    close: () => {},
  }
  const { completion, headers } = await runChat(deps, {
    caller: options.caller, request, requestId, signal: options.signal, logger: options.logger.child({ requestId }),
    conversation: options.conversation, sink,
  })
  const conversation = headers['haithe-conversation']
  const about = { request_id: requestId, ...(conversation ? { conversation } : {}) }
  return completion ? { ...completion, ...about } : { done: complete, ...about }
}
