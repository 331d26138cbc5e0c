/**
 * Sign-In with Ethereum (EIP-4361): the message must be for this gateway (the request's Host
 * or a configured domain), for its chain, within its validity window, and carry a nonce this
 * gateway issued to the message's address (without the UUID's hyphens, as EIP-4361 wants).
 */
import type { Address } from 'viem'
import { parseSiweMessage, validateSiweMessage } from 'viem/siwe'
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'
import { nonceOfSiwe } from './nonces.js'

export interface CheckedSiweMessage {
  address: Address
  /** Our nonce (a UUID). */
  nonce: string
}

const refuse = (message: string) => new WriteError(401, message, 'invalid_siwe_message')

/** The address and nonce of a SIWE message fit for this gateway; a 400/401 WriteError saying why not. */
export function checkSiweMessage(
  w: Pick<WriteContext, 'chain' | 'config' | 'now'>, text: string, request: { host: string; address?: Address },
): CheckedSiweMessage {
  const message = parseSiweMessage(text)
  if (!message.address || !message.domain || !message.nonce || !message.uri || !message.version || message.chainId === undefined) {
    throw new WriteError(400, 'message: is not an EIP-4361 (Sign-In with Ethereum) message', 'invalid_argument')
  }
  const address = message.address.toLowerCase() as Address
  if (request.address && request.address !== address) throw refuse(`the message signs in ${address}, not ${request.address}`)

  const domain = message.domain.toLowerCase()
  const accepted = [request.host, ...w.config.gateway.siweDomains].map((d) => d.toLowerCase())
  if (!accepted.includes(domain)) throw refuse(`the message is for ${message.domain}; this gateway accepts ${accepted.join(', ')}`)
  if (message.chainId !== w.chain.chainId) throw refuse(`the message is for chain ${message.chainId}; this gateway is on chain ${w.chain.chainId}`)

  const now = w.now()
  if (message.expirationTime && !(now < message.expirationTime)) throw refuse('the message has expired (Expiration Time); sign a new one')
  if (message.notBefore && now < message.notBefore) throw refuse('the message is not valid yet (Not Before)')
  if (!validateSiweMessage({ message, time: now })) throw refuse('the message is not a valid EIP-4361 message (version, nonce or dates)')

  const nonce = nonceOfSiwe(message.nonce)
  if (!nonce) throw refuse('the message\'s nonce is not one this gateway issued: get one from GET /api/v1/auth/nonce and use it without its hyphens')
  return { address, nonce }
}
