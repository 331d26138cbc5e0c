/**
 * Webhook signatures, HMAC-SHA256 over the exact raw body, compared in constant time:
 *
 * - `stripe`: `<header>: t=<unix seconds>,v1=<hex hmac of "<t>.<raw body>">` (several v1 values
 *   are allowed, as during a secret rotation); the timestamp must be within `toleranceSeconds`
 *   of now, so a captured delivery cannot be replayed later.
 * - `header`: `<header>: <hex hmac of the raw body>` (a `sha256=` prefix is accepted). It carries
 *   no timestamp: replays are stopped by the event id alone.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { HaitheConfig } from '../../config/index.js'
import { WriteError } from '../http/errors.js'

export type WebhookReceiver = HaitheConfig['webhooks'][string]

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/

function hmacHex(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload, 'utf8').digest('hex')
}

/** Constant-time equality of two hex digests (a malformed one is simply unequal). */
function sameDigest(expectedHex: string, givenHex: string): boolean {
  if (!HEX_SHA256.test(givenHex)) return false
  return timingSafeEqual(Buffer.from(expectedHex, 'hex'), Buffer.from(givenHex, 'hex'))
}

const refused = (message: string) => new WriteError(401, message, 'invalid_signature')

function verifyStripe(receiver: WebhookReceiver & { secret: string }, header: string, raw: string, nowSeconds: number): void {
  let timestamp: string | undefined
  const signatures: string[] = []
  for (const part of header.split(',')) {
    const at = part.indexOf('=')
    if (at < 0) continue
    const name = part.slice(0, at).trim()
    const value = part.slice(at + 1).trim()
    if (name === 't') timestamp = value
    else if (name === 'v1') signatures.push(value)
  }
  if (!timestamp || !/^\d{1,12}$/.test(timestamp) || signatures.length === 0) {
    throw refused(`the ${receiver.header} header must be "t=<unix seconds>,v1=<hex HMAC-SHA256>"`)
  }
  const expected = hmacHex(receiver.secret, `${timestamp}.${raw}`)
  // Compare with every candidate (no early exit), so timing says nothing about which matched.
  let matched = false
  for (const signature of signatures) matched = sameDigest(expected, signature) || matched
  if (!matched) throw refused('the webhook signature does not match the body')
  const age = nowSeconds - Number(timestamp)
  if (Math.abs(age) > receiver.toleranceSeconds) {
    throw refused(`the webhook signature's timestamp is ${age > 0 ? `${age} s old` : `${-age} s in the future`}; deliveries are accepted within ${receiver.toleranceSeconds} s`)
  }
}

function verifyHeader(receiver: WebhookReceiver & { secret: string }, header: string, raw: string): void {
  const given = header.trim().replace(/^sha256=/i, '')
  if (!sameDigest(hmacHex(receiver.secret, raw), given)) throw refused('the webhook signature does not match the body')
}

/** Throws 401 unless `header` (the receiver's signature header, if sent) signs `raw` with the receiver's secret. */
export function verifyWebhookSignature(receiver: WebhookReceiver & { secret: string }, header: string | undefined, raw: string, nowSeconds: number): void {
  if (!header) throw refused(`the ${receiver.header} header with the webhook signature is missing`)
  if (receiver.scheme === 'stripe') verifyStripe(receiver, header, raw, nowSeconds)
  else verifyHeader(receiver, header, raw)
}
