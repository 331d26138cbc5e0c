/**
 * Errors of the OpenAI-compatible routes that carry OpenAI's `param` (which the shared boundary
 * does not render): the routes' wrapper writes them as `{ error: { message, type, param, code } }`.
 */
import type { Context, Middleware } from 'koa'
import { WriteError } from '../http/errors.js'
import { openAiErrorBody } from '../http/openai-errors.js'

export class OpenAiError extends WriteError {
  override readonly name = 'OpenAiError'
  constructor(status: number, code: string, message: string, readonly param: string | null = null, headers: Readonly<Record<string, string>> = {}) {
    super(status, message, code, headers)
  }
}

/** Writes an error body in OpenAI's shape with the real status (and headers such as retry-after). */
export function writeOpenAiError(c: Context, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  c.status = status
  for (const [name, value] of Object.entries(headers)) c.set(name, value)
  c.type = 'application/json'
  c.body = body
}

/** Runs a handler; an OpenAiError becomes its body here, anything else goes to the shared boundary. */
export function openAiHandler(handler: Middleware): Middleware {
  return async (c, next) => {
    try {
      await handler(c, next)
    } catch (err) {
      if (!(err instanceof OpenAiError)) throw err
      writeOpenAiError(c, err.status, openAiErrorBody(err.status, err.code, err.message, err.param), err.headers)
    }
  }
}
