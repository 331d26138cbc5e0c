/**
 * What the service implementations share: their dependencies, the unary-call wrapper (errors to
 * statuses, the handled-calls counter) and the reading of proto3 request fields, where '' and
 * unset mean "not given".
 */
import { status, type handleUnaryCall, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js'
import type { Logger } from '../obs/index.js'
import type { EventFeed, Reads } from '../read/index.js'
import { toServiceError } from './errors.js'

export interface ServiceContext {
  reads: Reads
  feed: EventFeed
  logger: Logger
  /** Counts a finished call (grpc_server_handled_total). */
  record(service: string, method: string, code: status): void
}

/** A unary handler that runs `run` and answers with its result, or with the status of its error. */
export function unary<Req, Res>(ctx: ServiceContext, service: string, method: string, run: (request: Req) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    run(call.request).then(
      (response) => {
        ctx.record(service, method, status.OK)
        callback(null, response)
      },
      (error: unknown) => {
        const serviceError = toServiceError(error, ctx.logger, `${service}/${method}`)
        ctx.record(service, method, serviceError.code)
        callback(serviceError)
      },
    )
  }
}

/** A proto3 string field: '' is "not given". */
export const given = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value)

/** `fields` without its undefined entries: the object a REST query string would have made. */
export function params(fields: Record<string, string | number | undefined>): Record<string, string | number> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Record<string, string | number>
}
