/**
 * HTTP(S) requests on behalf of products and tools, refused before connecting when the
 * destination is loopback, private, link-local or otherwise not public, unless allowlisted.
 * The check runs inside the socket's DNS lookup, so the address checked is the address
 * connected to (a name cannot resolve to a public address for the check and a private one
 * for the connection). Redirects are followed by hand and each hop is checked again.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import { classifyAddress, createHostAllowlist, DestinationRefusedError, type HostAllowlist } from './outbound-guard.js'

export type OutboundErrorCode = 'timeout' | 'too_large' | 'network' | 'bad_url' | 'too_many_redirects'

/** An outbound request that failed for a reason other than its destination being refused. */
export class OutboundRequestError extends Error {
  override readonly name = 'OutboundRequestError'
  constructor(
    readonly code: OutboundErrorCode,
    message: string,
  ) {
    super(message)
  }
}

export interface GuardedFetchOptions {
  /** INFERENCE_ALLOW_HOSTS entries: non-public destinations allowed anyway. */
  allowHosts: readonly string[]
  /** For the whole request, redirects and body included. */
  timeoutMs: number
  /** A larger answer fails with `too_large` (it is never silently cut). */
  maxBytes: number
  method?: string
  headers?: Record<string, string>
  body?: string | Uint8Array
  /** Redirects followed at most; default 3. */
  maxRedirects?: number
  signal?: AbortSignal
}

export interface GuardedResponse {
  status: number
  /** The URL that answered, after redirects. */
  url: string
  contentType: string | null
  headers: Record<string, string>
  body: Buffer
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
/** Headers still sent after a redirect to another origin; the rest (credentials, API keys) are not. */
const CROSS_ORIGIN_HEADERS = new Set(['accept', 'accept-language', 'user-agent', 'content-type'])

function parseUrl(text: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new OutboundRequestError('bad_url', `"${text}" is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundRequestError('bad_url', `only http and https URLs are fetched, not ${url.protocol}`)
  }
  return url
}

const bareHost = (url: URL): string => (url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname)
const portOf = (url: URL): number => (url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80)
const origin = (url: URL): string => `${url.protocol}//${url.host}`

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}

/** A DNS lookup that refuses, as a connection error, any resolved address that is not allowed. */
function guardedLookup(url: URL, allowlist: HostAllowlist): LookupFunction {
  const port = portOf(url)
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0, hints: options.hints ?? 0 }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0)
      const refused = addresses.find((a) => classifyAddress(a.address) !== 'public' && !allowlist.allows(hostname, port, a.address))
      if (refused) return callback(new DestinationRefusedError(url.href, hostname, refused.address) as unknown as NodeJS.ErrnoException, '', 0)
      const first = addresses[0]
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0)
      if (options.all) return callback(null, addresses)
      return callback(null, first.address, first.family)
    })
  }
}

interface Hop {
  url: URL
  method: string
  headers: Record<string, string>
  body: Buffer | null
}

interface HopAnswer {
  status: number
  headers: IncomingHttpHeaders
  /** Null for a redirect, whose body is not read. */
  body: Buffer | null
}

function requestOnce(hop: Hop, allowlist: HostAllowlist, maxBytes: number, signal: AbortSignal): Promise<HopAnswer> {
  const { url } = hop
  const host = bareHost(url)
  // An IP-literal host never goes through the lookup: check it here.
  if (isIP(host) && classifyAddress(host) !== 'public' && !allowlist.allows(host, portOf(url), host)) {
    return Promise.reject(new DestinationRefusedError(url.href, host, host))
  }
  return new Promise<HopAnswer>((resolve, reject) => {
    let settled = false
    const finish = (error: unknown, answer?: HopAnswer) => {
      if (settled) return
      settled = true
      signal.removeEventListener('abort', onAbort)
      if (error === undefined) resolve(answer as HopAnswer)
      else {
        req.destroy()
        reject(error)
      }
    }
    const onAbort = () => finish(signal.reason)
    const headers: Record<string, string> = { ...hop.headers }
    if (hop.body) headers['content-length'] = String(hop.body.length)
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest
    const req = request(url, {
      method: hop.method,
      headers,
      agent: false, // a fresh connection per request: no pooled socket skips the lookup's check
      lookup: guardedLookup(url, allowlist),
    })
    signal.addEventListener('abort', onAbort, { once: true })
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof DestinationRefusedError) finish(err)
      else finish(new OutboundRequestError('network', `could not reach ${origin(url)}: ${err.code ?? err.message}`))
    })
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0
      if (REDIRECTS.has(status) && res.headers.location) {
        res.resume()
        return finish(undefined, { status, headers: res.headers, body: null })
      }
      const declared = Number(res.headers['content-length'])
      if (Number.isFinite(declared) && declared > maxBytes) {
        return finish(new OutboundRequestError('too_large', `the answer from ${origin(url)} is ${declared} bytes, more than the ${maxBytes} allowed`))
      }
      const parts: Buffer[] = []
      let size = 0
      res.on('data', (part: Buffer) => {
        size += part.length
        if (size > maxBytes) finish(new OutboundRequestError('too_large', `the answer from ${origin(url)} is larger than the ${maxBytes} bytes allowed`))
        else parts.push(part)
      })
      res.on('end', () => finish(undefined, { status, headers: res.headers, body: Buffer.concat(parts) }))
      res.on('error', (err: NodeJS.ErrnoException) => finish(new OutboundRequestError('network', `the answer from ${origin(url)} broke off: ${err.code ?? err.message}`)))
      res.on('aborted', () => finish(new OutboundRequestError('network', `the answer from ${origin(url)} broke off`)))
    })
    if (signal.aborted) return onAbort()
    req.end(hop.body ?? undefined)
  })
}

/**
 * Fetches an http(s) URL within the guard's rules: throws DestinationRefusedError for a refused
 * destination (before any connection), OutboundRequestError for the rest, and the caller's
 * abort reason when `signal` aborts.
 */
export async function guardedFetch(url: string, options: GuardedFetchOptions): Promise<GuardedResponse> {
  let hop: Hop = {
    url: parseUrl(url),
    method: (options.method ?? 'GET').toUpperCase(),
    headers: Object.fromEntries(Object.entries(options.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value])),
    body: options.body === undefined ? null : Buffer.from(options.body),
  }
  const allowlist = createHostAllowlist(options.allowHosts)
  const maxRedirects = options.maxRedirects ?? 3
  options.signal?.throwIfAborted()

  const controller = new AbortController()
  const timer = setTimeout(
    () => controller.abort(new OutboundRequestError('timeout', `${origin(hop.url)} did not answer within ${options.timeoutMs} ms`)),
    options.timeoutMs,
  )
  const forwardAbort = () => controller.abort(options.signal?.reason)
  options.signal?.addEventListener('abort', forwardAbort, { once: true })
  try {
    for (let redirects = 0; ; redirects++) {
      const answer = await requestOnce(hop, allowlist, options.maxBytes, controller.signal)
      if (answer.body !== null) {
        const contentType = answer.headers['content-type'] ?? null
        return { status: answer.status, url: hop.url.href, contentType, headers: flattenHeaders(answer.headers), body: answer.body }
      }
      if (redirects >= maxRedirects) {
        throw new OutboundRequestError('too_many_redirects', `${origin(hop.url)} redirected more than ${maxRedirects} times`)
      }
      let next: URL
      try {
        next = parseUrl(new URL(answer.headers.location as string, hop.url).href)
      } catch (err) {
        if (err instanceof OutboundRequestError) throw err
        throw new OutboundRequestError('bad_url', `${origin(hop.url)} redirected to an invalid location`)
      }
      const becomesGet = answer.status === 303 || ((answer.status === 301 || answer.status === 302) && hop.method === 'POST')
      let headers = hop.headers
      if (becomesGet) {
        headers = Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'content-type'))
      }
      if (origin(next) !== origin(hop.url)) {
        headers = Object.fromEntries(Object.entries(headers).filter(([name]) => CROSS_ORIGIN_HEADERS.has(name)))
      }
      hop = {
        url: next,
        method: becomesGet && hop.method !== 'HEAD' ? 'GET' : hop.method,
        headers,
        body: becomesGet ? null : hop.body,
      }
    }
  } finally {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', forwardAbort)
  }
}
