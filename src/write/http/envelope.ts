/**
 * v1's envelope, kept for its web app and SDK: `{ success: true, message, data }`, and on
 * failure `{ success: false, message }` (plus a `code` v1 did not have; clients ignore it).
 */
import { STATUS_CODES } from 'node:http'
import type { Context, Middleware } from 'koa'
import { ApiError, clearEntityHeaders, routePattern } from '../../api/middleware/index.js'
import type { Logger } from '../../obs/index.js'
import { InvalidArgumentError } from '../../read/errors.js'
import { OPENAI_PATH_PREFIX, openAiErrorBody } from './openai-errors.js'

export interface SuccessBody<T = unknown> {
  success: true
  message: string
  data: T
}

export interface FailureBody {
  success: false
  message: string
  code: string
}

export function failureBody(code: string, message: string): FailureBody {
  return { success: false, message, code }
}

/** Writes a failure: v1's envelope, or OpenAI's error shape under /api/v1beta/openai. */
export function writeFailure(c: Context, status: number, code: string, message: string, headers: Readonly<Record<string, string>> = {}): void {
  clearEntityHeaders(c)
  c.status = status
  for (const [name, value] of Object.entries(headers)) c.set(name, value)
  c.type = 'application/json'
  c.body = c.path.startsWith(OPENAI_PATH_PREFIX) ? openAiErrorBody(status, code, message) : failureBody(code, message)
}

interface Answer {
  status: number
  code: string
  message: string
  headers?: Readonly<Record<string, string>>
}

function classify(err: unknown): Answer {
  if (err instanceof ApiError) return { status: err.status, code: err.code, message: err.message, headers: err.headers }
  if (err instanceof InvalidArgumentError) return { status: 400, code: 'invalid_argument', message: err.message }
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === '57014') return { status: 503, code: 'timeout', message: 'the database took too long; try again' }
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as { status?: unknown; expose?: unknown; message?: unknown }
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    const message = e.expose !== false && typeof e.message === 'string' && e.message ? e.message : (STATUS_CODES[e.status] ?? 'bad request')
    return { status: e.status, code: 'bad_request', message }
  }
  return { status: 500, code: 'internal', message: 'internal error' }
}

/**
 * Every error as v1's failure envelope: WriteError (an ApiError, as the rate limiter's 429s are)
 * with its status; a 4xx from Koa with its message; anything else 500, logged with
 * the request id and never detailed. Unrouted requests (404/405) get the same shape.
 */
export function createEnvelopeErrorBoundary(options: { logger: Logger }): Middleware {
  return async (c, next) => {
    try {
      await next()
    } catch (err) {
      const answer = classify(err)
      const logger: Logger = c.state.logger ?? options.logger
      const where = { method: c.method, route: routePattern(c) ?? c.path }
      if (answer.status >= 500) logger[answer.code === 'internal' ? 'error' : 'warn']({ err, ...where }, 'request failed')
      else logger.debug({ err: { message: answer.message }, ...where }, 'request refused')
      writeFailure(c, answer.status, answer.code, answer.message, answer.headers)
      return
    }
    if (c.status === 404 && c.body == null) writeFailure(c, 404, 'not_found', `no route ${c.method} ${c.path}`)
    else if (c.status === 405 && c.body == null) writeFailure(c, 405, 'method_not_allowed', `${c.method} is not allowed on ${c.path} (allowed: ${c.response.get('Allow')})`)
    else if (c.status >= 400 && c.body == null) writeFailure(c, c.status, 'error', STATUS_CODES[c.status] ?? 'error')
  }
}
