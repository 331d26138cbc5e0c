/**
 * TEE routes. The server's key stands in for the enclave's: creators encrypt product keys to
 * its public key. An attestation exists only when a provider is configured (tee.attestationUrl);
 * without one the answer says so (501) rather than pretend.
 */
import { z } from 'zod'
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'
import { route } from '../http/route.js'

const ATTESTATION_TIMEOUT_MS = 5_000
const MAX_ATTESTATION_BYTES = 256 * 1024

function publicKeyOf(w: WriteContext) {
  const publicKey = w.account.publicKey
  return {
    // v1's field: the uncompressed secp256k1 key, hex without 0x
    tee_pubkey: publicKey.slice(2),
    public_key: publicKey,
    address: w.account.address.toLowerCase(),
  }
}

async function fetchAttestation(url: string): Promise<unknown> {
  let response: Response
  try {
    response = await fetch(url, { headers: { accept: 'application/json, text/plain;q=0.9, */*;q=0.5' }, signal: AbortSignal.timeout(ATTESTATION_TIMEOUT_MS) })
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
    throw new WriteError(502, timedOut ? `the attestation provider did not answer within ${ATTESTATION_TIMEOUT_MS / 1000} s` : 'the attestation provider could not be reached', 'attestation_unavailable')
  }
  const text = await response.text()
  if (!response.ok) throw new WriteError(502, `the attestation provider answered ${response.status}`, 'attestation_unavailable')
  if (text.length > MAX_ATTESTATION_BYTES) throw new WriteError(502, 'the attestation provider answered more than 256 KiB', 'attestation_unavailable')
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new WriteError(502, 'the attestation provider answered malformed JSON', 'attestation_unavailable')
    }
  }
  return text.trim()
}

export const teeRoutes = [
  route({
    method: 'GET',
    path: '/v1/tee/pub-key',
    access: 'public',
    summary: "The server's public key (encrypt product keys to it) and address",
    input: z.object({}),
    async handle({ w }) {
      return { data: publicKeyOf(w), message: 'TEE public key' }
    },
  }),
  route({
    method: 'GET',
    path: '/v1/tee/attest',
    access: 'public',
    summary: 'An attestation from the configured provider (501 when none is configured)',
    input: z.object({}),
    async handle({ w }) {
      const url = w.config.tee.attestationUrl
      if (!url) {
        throw new WriteError(501, 'no attestation provider is configured on this gateway (tee.attestationUrl / TEE_ATTESTATION_URL); the server key at GET /api/v1/tee/pub-key is not attested', 'not_implemented')
      }
      const attestation = await fetchAttestation(url)
      return { data: { ...publicKeyOf(w), attestation }, message: 'attestation fetched' }
    },
  }),
]
