/**
 * POST /api/v1beta/openai/chat/completions over HTTP: the caller from the headers, the body
 * checked where the gateway needs it, the call run by runChat, the answer as JSON or as
 * server-sent events. An upstream error keeps its status (and retry-after).
 */
import type { Context } from 'koa'
import { readBody } from '../http/body.js'
import { resolveCaller } from './caller-context.js'
import { checkChatRequest, runChat, type ChatDeps } from './chat/run-chat.js'
import { writeOpenAiError } from './openai-error.js'
import { UpstreamError } from './providers/index.js'
import { httpEventSink } from './stream-relay.js'

/** Chat requests carry whole conversations and inline images (base64): more room than v1's routes. */
const MAX_CHAT_BODY_BYTES = 20 * 1024 * 1024

export function chatCompletionsHandler(deps: ChatDeps) {
  return async (c: Context): Promise<void> => {
    const caller = await resolveCaller(deps.w, c, true)
    const body = await readBody(c, MAX_CHAT_BODY_BYTES)
    const request = checkChatRequest(body?.json)
    const signal: AbortSignal = c.state.signal
    try {
      const result = await runChat(deps, {
        caller, request, signal, requestId: c.state.requestId, logger: c.state.logger,
        conversation: c.get('haithe-conversation').trim() || undefined,
        sink: httpEventSink(c),
      })
      if (result.completion) {
        c.set(result.headers)
        c.status = 200
        c.body = result.completion
      }
    } catch (err) {
      if (err instanceof UpstreamError) {
        writeOpenAiError(c, err.status, err.body, err.retryAfter !== null ? { 'retry-after': String(err.retryAfter) } : {})
        return
      }
      if (signal.aborted) return void (c.respond = false)
      throw err
    }
  }
}
