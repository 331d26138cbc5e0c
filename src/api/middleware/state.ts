/**
 * What the read API's middleware leaves on `ctx.state` for the middleware and routes inside
 * it. Declared on Koa's DefaultState so route handlers read them typed.
 */
import type { Logger } from '../../obs/index.js'

/** Who is calling: decides which rate-limit budget a request spends. */
export type Caller =
  /** No credentials; `id` is the client IP (ctx.ip, which honours app.proxy). */
  | { kind: 'anonymous'; id: string }
  /** A configured read API key; `id` is the key's sha256 in hex, never the key. */
  | { kind: 'apiKey'; id: string }
  /** A wallet that signed `haithe-read-api:<timestamp>`; `id` is its lowercased address. */
  | { kind: 'wallet'; id: `0x${string}` }

export interface ApiState {
  /** Set by createRequestId. */
  requestId: string
  /** A child of the process logger carrying `requestId`; set by createRequestId. */
  logger: Logger
  /** Aborted when the request times out or the client goes away; set by createRequestTimeout. */
  signal: AbortSignal
  /** Set by createRateLimit. */
  caller: Caller
}

declare module 'koa' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface DefaultState extends ApiState {}
}
