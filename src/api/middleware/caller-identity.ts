import { createHash, timingSafeEqual } from 'node:crypto'
import type { Context } from 'koa'
import { LRUCache } from 'lru-cache'
import { recoverMessageAddress, type Hex } from 'viem'
import { ApiError } from './errors.js'
import type { Caller } from './state.js'

export interface CallerIdentifierOptions {
  /** config.api.apiKeys: the keys that identify a caller. Kept only as sha256 digests. */
  apiKeys: readonly string[]
  /** How far X-Haithe-Timestamp may be from the server's clock, in seconds. */
  maxClockSkewSeconds?: number
  /** Successful wallet verifications remembered, so a reused signature costs one ecrecover. */
  verifiedSignatures?: number
  /** Milliseconds since the epoch (tests move the clock). */
  now?: () => number
}

export interface CallerIdentifier {
  /**
   * Who is calling. An API key (`Authorization: Bearer <key>` or `X-API-Key`) wins over a
   * wallet signature (X-Haithe-Address, X-Haithe-Timestamp, X-Haithe-Signature); with
   * neither the caller is anonymous, known by IP. Credentials presented but wrong throw a
   * 401 ApiError (`unauthenticated`) saying what is wrong.
   */
  identify(ctx: Pick<Context, 'get' | 'ip'>): Promise<Caller>
}

/** The exact text a wallet signs (EIP-191 personal_sign) to identify itself. */
export function walletMessage(timestamp: string): string {
  return `haithe-read-api:${timestamp}`
}

export function createCallerIdentifier(options: CallerIdentifierOptions): CallerIdentifier {
  const keyDigests = options.apiKeys.map(sha256)
  const maxSkew = options.maxClockSkewSeconds ?? 300
  const now = options.now ?? Date.now
  const verified = new LRUCache<string, true>({ max: options.verifiedSignatures ?? 10_000, ttl: 2 * maxSkew * 1000 })

  function identifyKey(presented: string): Caller {
    const digest = sha256(presented)
    let known = false
    // Every configured key is compared, whatever matched before: the time taken says nothing.
    for (const candidate of keyDigests) {
      const equal = timingSafeEqual(digest, candidate)
      known = equal || known
    }
    if (!known) throw unauthenticated('unknown API key')
    return { kind: 'apiKey', id: digest.toString('hex') }
  }

  async function identifyWallet(address: string, timestamp: string, signature: string): Promise<Caller> {
    if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw unauthenticated('X-Haithe-Address must be a 0x-prefixed 20-byte hex address')
    if (!/^\d{1,12}$/.test(timestamp)) throw unauthenticated('X-Haithe-Timestamp must be a unix time in seconds')
    const skew = Math.abs(now() / 1000 - Number(timestamp))
    if (skew > maxSkew) {
      throw unauthenticated(`X-Haithe-Timestamp is stale: ${timestamp} is ${Math.round(skew)} s from the server's clock (at most ${maxSkew} s); sign a fresh timestamp`)
    }
    if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) throw unauthenticated('X-Haithe-Signature must be a 65-byte hex signature')
    const lowered = address.toLowerCase() as `0x${string}`
    const cacheKey = `${lowered}:${timestamp}:${signature.toLowerCase()}`
    if (!verified.has(cacheKey)) {
      const signer = await recoverMessageAddress({ message: walletMessage(timestamp), signature: signature as Hex }).catch(() => undefined)
      if (signer?.toLowerCase() !== lowered) {
        throw unauthenticated(`X-Haithe-Signature is not a signature by ${address} of the message "${walletMessage(timestamp)}"`)
      }
      verified.set(cacheKey, true)
    }
    return { kind: 'wallet', id: lowered }
  }

  return {
    async identify(ctx) {
      const authorization = ctx.get('Authorization')
      if (authorization) {
        const bearer = /^Bearer +(\S+) *$/i.exec(authorization)
        if (!bearer) throw unauthenticated('Authorization must be "Bearer <API key>"')
        return identifyKey(bearer[1]!)
      }
      const headerKey = ctx.get('X-API-Key').trim()
      if (headerKey) return identifyKey(headerKey)

      const address = ctx.get('X-Haithe-Address').trim()
      const timestamp = ctx.get('X-Haithe-Timestamp').trim()
      const signature = ctx.get('X-Haithe-Signature').trim()
      if (!address && !timestamp && !signature) return { kind: 'anonymous', id: ctx.ip }
      const wallet = { 'X-Haithe-Address': address, 'X-Haithe-Timestamp': timestamp, 'X-Haithe-Signature': signature }
      const missing = Object.entries(wallet).filter(([, value]) => !value).map(([name]) => name)
      if (missing.length > 0) throw unauthenticated(`a wallet signature needs X-Haithe-Address, X-Haithe-Timestamp and X-Haithe-Signature; missing ${missing.join(', ')}`)
      return identifyWallet(wallet['X-Haithe-Address'], wallet['X-Haithe-Timestamp'], wallet['X-Haithe-Signature'])
    },
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

function unauthenticated(message: string): ApiError {
  return new ApiError(401, 'unauthenticated', message)
}
