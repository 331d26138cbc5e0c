/**
 * A product's content by its `uri`: `data:` inline, `ipfs://<cid>/<path>` through the configured
 * IPFS gateway, `https://` from the web. Creators choose these URIs, so every network fetch goes
 * through the outbound guard (no loopback, private or link-local destination unless allowlisted);
 * plain `http://` is accepted only for allowlisted hosts (a local content server in development).
 */
import type { HaitheConfig } from '../../../config/index.js'
import { createHostAllowlist, guardedFetch } from '../tools/index.js'
import { ProductUnavailableError } from './errors.js'

export interface FetchedContent {
  body: Uint8Array
  contentType: string | null
}

type Options = Pick<HaitheConfig['inference'], 'ipfsGateway' | 'allowHosts' | 'contentTimeoutMs' | 'maxContentBytes'>

/** `ipfs://<cid>/<path>` (and the older `ipfs://ipfs/<cid>`) → the gateway's URL. */
export function ipfsGatewayUrl(uri: string, gateway: string): string {
  const path = uri.slice('ipfs://'.length).replace(/^ipfs\//, '')
  if (!/^[A-Za-z0-9]{10,}(\/.*)?$/.test(path)) throw new ProductUnavailableError(`"${uri.slice(0, 100)}" is not ipfs://<cid>/<path>`)
  return `${gateway.replace(/\/?$/, '/')}${path}`
}

async function fetchDataUri(uri: string, maxBytes: number): Promise<FetchedContent> {
  // Node's fetch decodes data: URLs (base64 or percent-encoded) per the WHATWG rules.
  let response: Response
  try {
    response = await fetch(uri)
  } catch {
    throw new ProductUnavailableError('its data: URI is malformed')
  }
  const body = new Uint8Array(await response.arrayBuffer())
  if (body.byteLength > maxBytes) throw new ProductUnavailableError(`its content is larger than ${maxBytes} bytes`)
  return { body, contentType: response.headers.get('content-type') }
}

export async function fetchUri(uri: string, options: Options, signal?: AbortSignal): Promise<FetchedContent> {
  if (uri.startsWith('data:')) return fetchDataUri(uri, options.maxContentBytes)
  let url: string
  let allowHosts = options.allowHosts
  if (uri.startsWith('ipfs://')) {
    url = ipfsGatewayUrl(uri, options.ipfsGateway)
    // The operator's own gateway may live on a private address.
    allowHosts = [...allowHosts, new URL(options.ipfsGateway).host]
  } else {
    let parsed: URL
    try {
      parsed = new URL(uri)
    } catch {
      throw new ProductUnavailableError(`its uri "${uri.slice(0, 100)}" is not a URL (https://, ipfs:// or data:)`)
    }
    const port = Number(parsed.port || 80)
    const httpAllowed = parsed.protocol === 'http:' && createHostAllowlist(allowHosts).allows(parsed.hostname, port, parsed.hostname.replace(/^\[|\]$/g, ''))
    if (parsed.protocol !== 'https:' && !httpAllowed) {
      throw new ProductUnavailableError(`its uri scheme ${parsed.protocol} is not served (https://, ipfs:// or data:)`)
    }
    url = parsed.toString()
  }
  const answer = await guardedFetch(url, { allowHosts, timeoutMs: options.contentTimeoutMs, maxBytes: options.maxContentBytes, signal })
  if (answer.status < 200 || answer.status > 299) throw new ProductUnavailableError(`its content server answered ${answer.status}`)
  return { body: new Uint8Array(answer.body), contentType: answer.contentType }
}
