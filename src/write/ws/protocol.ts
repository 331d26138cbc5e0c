/**
 * JSON-RPC 2.0 on the gateway's WebSocket: message shapes, error codes, and the parse of a
 * client's message. Every call needs an `id` (string or number): each method answers, and a
 * chat's notifications name the call by it. Batches (arrays) are not accepted.
 */
import type { z } from 'zod'

export const RPC_PATH = '/api/v1beta/ws'

export type RpcId = string | number

/**
 * Error codes. The JSON-RPC ones, then ours: -32001 unauthenticated, -32003 forbidden, and any
 * other failure that has an HTTP status (the status the REST API would answer) maps to
 * -(32000 + status): 402 → -32402, 404 → -32404, 409 → -32409, 429 → -32429, 502 → -32502,
 * 503 → -32503… (400 is -32602, 401 is -32001, 403 is -32003). `error.data` then carries
 * `{ status, type, code }` (and `param`, `retry_after` where there is one), as the REST API's body.
 */
export const RpcCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  unauthenticated: -32001,
  forbidden: -32003,
} as const

export class RpcError extends Error {
  override readonly name = 'RpcError'
  constructor(readonly code: number, message: string, readonly data?: Readonly<Record<string, unknown>>) {
    super(message)
  }
}

export interface RpcRequest {
  id: RpcId
  method: string
  /** `{}` when the call sent none. */
  params: Record<string, unknown>
}

export type ParsedMessage = { request: RpcRequest } | { id: RpcId | null; error: RpcError }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isId = (v: unknown): v is RpcId => (typeof v === 'string' && v.length > 0 && v.length <= 128) || (typeof v === 'number' && Number.isSafeInteger(v))

export function parseMessage(text: string): ParsedMessage {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { id: null, error: new RpcError(RpcCode.parseError, 'parse error: the message is not JSON') }
  }
  const invalid = (id: RpcId | null, message: string) => ({ id, error: new RpcError(RpcCode.invalidRequest, `invalid request: ${message}`) })
  if (Array.isArray(json)) return invalid(null, 'batches are not supported; send one request per message')
  if (!isObject(json)) return invalid(null, 'a message must be a JSON-RPC 2.0 request object')
  const id = isId(json.id) ? json.id : null
  if (json.jsonrpc !== '2.0') return invalid(id, 'jsonrpc must be "2.0"')
  if (typeof json.method !== 'string' || json.method.length === 0) return invalid(id, 'method must be a non-empty string')
  if (id === null) return invalid(null, 'id is required: a string (at most 128 characters) or a whole number; every method here answers')
  if (json.params !== undefined && !isObject(json.params)) return invalid(id, 'params must be an object (named parameters)')
  return { request: { id, method: json.method, params: json.params ?? {} } }
}

export const resultMessage = (id: RpcId, result: unknown) => ({ jsonrpc: '2.0' as const, id, result })

export const errorMessage = (id: RpcId | null, error: RpcError) => ({
  jsonrpc: '2.0' as const,
  id,
  error: { code: error.code, message: error.message, ...(error.data ? { data: error.data } : {}) },
})

export const notificationMessage = (method: string, params: Record<string, unknown>) => ({ jsonrpc: '2.0' as const, method, params })

/** Parses a method's params; a mismatch is -32602 with zod's issues, said as the REST API says them. */
export function parseParams<T extends z.ZodType>(schema: T, params: Record<string, unknown>): z.output<T> {
  const parsed = schema.safeParse(params)
  if (parsed.success) return parsed.data
  const message = parsed.error.issues.map((issue) => {
    const at = issue.path.map(String).join('.')
    if (issue.code === 'unrecognized_keys') return `unknown parameter(s): ${issue.keys.join(', ')}`
    if (issue.code === 'invalid_type' && issue.input === undefined) return `${at}: is required`
    return at ? `${at}: ${issue.message}` : issue.message
  }).join('; ')
  throw new RpcError(RpcCode.invalidParams, `invalid params: ${message}`, { status: 400, type: 'invalid_request_error', code: 'invalid_params' })
}
