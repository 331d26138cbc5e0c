import { STATUS_CODES } from 'node:http'
import type { Context, Middleware } from 'koa'
import type { Logger } from '../../obs/index.js'
import { InvalidArgumentError, NotFoundError } from '../../read/errors.js'
import { routePattern } from './route.js'

/** The one shape of every error the read API answers. */
export interface ErrorBody {
  error: { code: string; message: string }
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } }
}

/**
 * An error meant for the caller, thrown by middleware and routes: answered with its status,
 * code, message and headers (e.g. `Retry-After`).
 */
export class ApiError extends Error {
  override readonly name: string = 'ApiError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message)
  }
}

export interface ErrorBoundaryOptions {
  /** Used when createRequestId has not set `ctx.state.logger`. */
  logger: Logger
}

const codeByStatus: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'rate_limited',
  501: 'not_implemented',
  503: 'unavailable',
}

/** Headers describing a body that an error response replaces. */
const entityHeaders = ['Cache-Control', 'ETag', 'Last-Modified', 'Content-Disposition', 'Content-Encoding', 'Content-Language']

/**
 * The error boundary. Every failure becomes `{ error: { code, message } }`:
 * InvalidArgumentError 400 `invalid_argument`, NotFoundError 404 `not_found`, ApiError its
 * own status, a 4xx from Koa or a parser that status, a PostgreSQL statement timeout 503
 * `timeout`; anything else 500 `internal`, logged with the request id and never detailed.
 * Responses that end 4xx/5xx without a body (no route: 404, wrong method: 405) get the same shape.
 */
export function createErrorBoundary(options: ErrorBoundaryOptions): Middleware {
  return async (ctx, next) => {
    try {
      await next()
    } catch (err) {
      const answer = classify(err)
      const logger: Logger = ctx.state.logger ?? options.logger
      const where = { method: ctx.method, route: routePattern(ctx) ?? ctx.path }
      if (answer.status >= 500) logger[answer.code === 'internal' ? 'error' : 'warn']({ err, ...where }, 'request failed')
      else logger.debug({ err: { name: errorName(err), message: answer.message }, ...where }, 'request refused')
      writeError(ctx, answer.status, answer.code, answer.message, answer.headers)
      return
    }
    if (ctx.status >= 400 && ctx.body == null && !ctx.headerSent) {
      const code = codeFor(ctx.status)
      writeError(ctx, ctx.status, code, emptyErrorMessage(ctx))
    }
  }
}

/** Replaces whatever response was under way with an error body. */
export function writeError(ctx: Context, status: number, code: string, message: string, headers: Readonly<Record<string, string>> = {}): void {
  clearEntityHeaders(ctx)
  ctx.status = status
  for (const [name, value] of Object.entries(headers)) ctx.set(name, value)
  ctx.body = errorBody(code, message)
  ctx.type = 'application/json'
}

/** Removes the headers that described the body an error replaces (caching, validators). */
export function clearEntityHeaders(ctx: Context): void {
  for (const header of entityHeaders) ctx.remove(header)
}

/** A failure's HTTP status as the boundary will answer it (for logs and metrics outside it). */
export function statusOfFailure(err: unknown): number {
  return classify(err).status
}

interface Answer {
  status: number
  code: string
  message: string
  headers?: Record<string, string>
}

function classify(err: unknown): Answer {
  if (err instanceof ApiError) return { status: err.status, code: err.code, message: err.message, headers: { ...err.headers } }
  if (err instanceof InvalidArgumentError) return { status: 400, code: 'invalid_argument', message: err.message }
  if (err instanceof NotFoundError) return { status: 404, code: 'not_found', message: err.message || 'not found' }
  if (isStatementTimeout(err)) return { status: 503, code: 'timeout', message: 'the query took too long' }
  const e = (typeof err === 'object' && err !== null ? err : {}) as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown; headers?: unknown }
  const status = typeof e.status === 'number' ? e.status : e.statusCode
  if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 500) {
    const message = e.expose !== false && typeof e.message === 'string' && e.message ? e.message : (STATUS_CODES[status] ?? 'bad request')
    return { status, code: codeFor(status), message, headers: stringHeaders(e.headers) }
  }
  return { status: 500, code: 'internal', message: 'internal error' }
}

/** PostgreSQL's query_canceled (SQLSTATE 57014): statement_timeout, here or wrapped by a driver. */
function isStatementTimeout(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === '57014') return true
  }
  return false
}

function codeFor(status: number): string {
  return (
    codeByStatus[status] ??
    (STATUS_CODES[status] ?? 'error')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
  )
}

function emptyErrorMessage(ctx: Context): string {
  const path = ctx.path.length > 200 ? `${ctx.path.slice(0, 200)}…` : ctx.path
  switch (ctx.status) {
    case 404:
      return routePattern(ctx) ? 'not found' : `no route for ${ctx.method} ${path}`
    case 405:
      return `${ctx.method} is not allowed on ${path}${ctx.response.get('Allow') ? ` (allowed: ${ctx.response.get('Allow')})` : ''}`
    case 501:
      return `${ctx.method} is not implemented`
    default:
      return (STATUS_CODES[ctx.status] ?? 'error').toLowerCase()
  }
}

function stringHeaders(headers: unknown): Record<string, string> {
  if (typeof headers !== 'object' || headers === null) return {}
  return Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string'))
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err
}
