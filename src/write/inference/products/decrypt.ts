/**
 * Products' content may be encrypted for the TEE: an OpenPGP message encrypted with a password
 * (symmetric, SKESK). The password is the product's key when the product carries one
 * (`encryptedKeyForTEE`: itself an OpenPGP message encrypted with the TEE secret), otherwise the
 * TEE secret. Plain content passes through. The product's `iv` is not needed: OpenPGP packets
 * carry their own.
 */
import * as openpgp from 'openpgp'
import { ProductUnavailableError } from './errors.js'

const ARMOR = '-----BEGIN PGP MESSAGE-----'
const utf8 = new TextDecoder('utf-8')

/** Armored, or a binary message starting with a symmetric-key session packet (tag 3, new or old format). */
export function isOpenPgpMessage(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return false
  if (bytes[0] === 0xc3 || (bytes[0]! & 0xfc) === 0x8c) return true
  return utf8.decode(bytes.subarray(0, 256)).trimStart().startsWith(ARMOR)
}

async function readMessage(bytes: Uint8Array) {
  const text = utf8.decode(bytes.subarray(0, 256)).trimStart()
  return text.startsWith(ARMOR) ? openpgp.readMessage({ armoredMessage: utf8.decode(bytes) }) : openpgp.readMessage({ binaryMessage: bytes })
}

async function decryptWith(bytes: Uint8Array, password: string): Promise<Uint8Array> {
  const message = await readMessage(bytes)
  const { data } = await openpgp.decrypt({ message, passwords: [password], format: 'binary' })
  return data
}

export interface DecryptOptions {
  /** The TEE secret (tee.secret); null when none is configured. */
  teeSecret: string | null
  /** Reads the product's `encryptedKeyForTEE` (only called for encrypted content). */
  productKey: () => Promise<string>
}

export async function decryptProductContent(bytes: Uint8Array, options: DecryptOptions): Promise<Uint8Array> {
  if (!isOpenPgpMessage(bytes)) return bytes
  if (!options.teeSecret) throw new ProductUnavailableError('its content is encrypted and this gateway has no TEE secret (tee.secret / TEE_SECRET)')
  let password = options.teeSecret
  const wrapped = (await options.productKey()).trim()
  try {
    if (wrapped.startsWith(ARMOR)) password = utf8.decode(await decryptWith(new TextEncoder().encode(wrapped), options.teeSecret))
    return await decryptWith(bytes, password)
  } catch (err) {
    if (err instanceof ProductUnavailableError) throw err
    throw new ProductUnavailableError('its content could not be decrypted with the TEE secret (wrong key, or not an OpenPGP password-encrypted message)')
  }
}
