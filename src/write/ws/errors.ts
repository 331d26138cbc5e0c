/**
 * The gateway's errors as JSON-RPC errors (see RpcCode for the scheme): a WriteError or
 * OpenAiError keeps its status and code in `data`, a provider's error its own body's fields.
 */
import { ApiError } from '../../api/middleware/index.js'
import { openAiErrorType } from '../http/openai-errors.js'
import { OpenAiError } from '../inference/openai-error.js'
import { UpstreamError } from '../inference/providers/index.js'
import { RpcCode, RpcError } from './protocol.js'

export function rpcCodeOfStatus(status: number): number {
  if (status === 400) return RpcCode.invalidParams
  if (status === 401) return RpcCode.unauthenticated
  if (status === 403) return RpcCode.forbidden
  return -(32000 + status)
}

/** An error with the HTTP status the REST API would answer. */
export function httpRpcError(status: number, code: string | null, message: string, extra: Readonly<Record<string, unknown>> = {}): RpcError {
  return new RpcError(rpcCodeOfStatus(status), message, { status, type: openAiErrorType(status), code, ...extra })
}

/** The RpcError for `err`; undefined when it is none of ours (an internal failure, to be logged). */
export function toRpcError(err: unknown): RpcError | undefined {
  if (err instanceof RpcError) return err
  if (err instanceof UpstreamError) {
    const { message, type, code, param } = err.body.error
    return new RpcError(rpcCodeOfStatus(err.status), message, {
      status: err.status, type, code, param, ...(err.retryAfter !== null ? { retry_after: err.retryAfter } : {}),
    })
  }
  if (err instanceof OpenAiError) return httpRpcError(err.status, err.code, err.message, { param: err.param })
  if (err instanceof ApiError) return httpRpcError(err.status, err.code, err.message)
  return undefined
}
