/**
 * A failed read as a gRPC status: the caller's mistakes with their message (INVALID_ARGUMENT,
 * NOT_FOUND), the database's timeouts and outages as DEADLINE_EXCEEDED / UNAVAILABLE (worth a
 * retry), anything else INTERNAL with a generic message, logged here and never detailed to the
 * caller.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js'
import { InvalidArgumentError, NotFoundError } from '../read/index.js'
import type { Logger } from '../obs/index.js'

/** Socket-level failures to reach the database (Node's codes, also inside AggregateError). */
const connectionCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])
/** PostgreSQL SQLSTATEs meaning "the server is going away or not taking connections"; class 08 is connection exceptions. */
const unavailableStates = new Set(['57P01', '57P02', '57P03', '53300'])
const STATEMENT_TIMEOUT = '57014'

/** `error` and what it wraps (`cause`, AggregateError's `errors`), breadth first, cycles cut. */
function* chainOf(error: unknown): Generator<unknown> {
  const seen = new Set<unknown>()
  const queue: unknown[] = [error]
  while (queue.length > 0) {
    const next = queue.shift()
    if (next === undefined || next === null || seen.has(next)) continue
    seen.add(next)
    yield next
    if (typeof next === 'object') {
      const { cause, errors } = next as { cause?: unknown; errors?: unknown }
      queue.push(cause)
      if (Array.isArray(errors)) queue.push(...(errors as unknown[]))
    }
  }
}

const codeOf = (error: unknown): string | undefined => {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  return typeof code === 'string' ? code : undefined
}

/** The gRPC code and the message the caller may see, for an error thrown by a read. */
export function classifyError(error: unknown): { code: status; details: string; expected: boolean } {
  for (const e of chainOf(error)) {
    if (e instanceof InvalidArgumentError) return { code: status.INVALID_ARGUMENT, details: e.message, expected: true }
    if (e instanceof NotFoundError) return { code: status.NOT_FOUND, details: e.message, expected: true }
  }
  for (const e of chainOf(error)) {
    const code = codeOf(e)
    if (code === STATEMENT_TIMEOUT) return { code: status.DEADLINE_EXCEEDED, details: 'the query took too long; try a narrower request', expected: false }
    if (code !== undefined && (connectionCodes.has(code) || unavailableStates.has(code) || /^08[0-9A-Z]{3}$/.test(code))) {
      return { code: status.UNAVAILABLE, details: 'the database is unavailable; retry later', expected: false }
    }
    // node-postgres ends a query whose connection dropped with this message and no code.
    if (e instanceof Error && /^Connection terminated/.test(e.message)) {
      return { code: status.UNAVAILABLE, details: 'the database is unavailable; retry later', expected: false }
    }
  }
  return { code: status.INTERNAL, details: 'internal error', expected: false }
}

/** `error` as the ServiceError to hand grpc-js; logs it unless it is the caller's doing. */
export function toServiceError(error: unknown, logger: Logger, method: string): Partial<ServiceError> & { code: status } {
  const { code, details, expected } = classifyError(error)
  if (!expected) {
    if (code === status.INTERNAL) logger.error({ err: error, method }, 'gRPC call failed')
    else logger.warn({ err: error, method, code: status[code] }, 'gRPC call failed')
  }
  return { code, details, message: details, metadata: new Metadata() }
}
