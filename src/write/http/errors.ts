import { ApiError } from '../../api/middleware/index.js'

/**
 * The write path's errors. Every failure the caller can do something about is a WriteError:
 * answered with its status and, in v1's envelope, `{ success: false, message, code }`. It is the
 * shared middleware's ApiError, so the rate limiter treats a refused credential like its own.
 */
export class WriteError extends ApiError {
  override readonly name: string = 'WriteError'
  /** `code` is a stable machine-readable code (the message is for people). */
  constructor(status: number, message: string, code: string = defaultCode(status), headers: Readonly<Record<string, string>> = {}) {
    super(status, code, message, headers)
  }
}

export const badRequest = (message: string) => new WriteError(400, message)
export const unauthorized = (message = 'sign in first: send Authorization: Bearer <token from POST /api/v1/auth/login> or an API key') =>
  new WriteError(401, message)
export const forbidden = (message: string) => new WriteError(403, message)
export const notFound = (message: string) => new WriteError(404, message)
export const conflict = (message: string) => new WriteError(409, message)

function defaultCode(status: number): string {
  switch (status) {
    case 400: return 'bad_request'
    case 401: return 'unauthenticated'
    case 402: return 'insufficient_quota'
    case 403: return 'forbidden'
    case 404: return 'not_found'
    case 409: return 'conflict'
    case 413: return 'payload_too_large'
    case 422: return 'unprocessable_entity'
    case 429: return 'rate_limited'
    case 501: return 'not_implemented'
    case 503: return 'unavailable'
    default: return status >= 500 ? 'internal' : 'error'
  }
}
