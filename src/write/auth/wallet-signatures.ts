/**
 * Whether a wallet signed a message (personal_sign, EIP-191): an ordinary account by ECDSA
 * recovery, locally; a smart-contract wallet through viem's verifyMessage, which asks the
 * wallet (ERC-1271) or, for a wallet not deployed yet, runs its deployment in an eth_call
 * (ERC-6492).
 */
import { isErc6492Signature, recoverMessageAddress, type Address, type Hex } from 'viem'
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'

/** Recovers the signer of an ordinary 65-byte signature; undefined when it is not one. */
async function recoverSigner(message: string, signature: Hex): Promise<Address | undefined> {
  try {
    return (await recoverMessageAddress({ message, signature })).toLowerCase() as Address
  } catch {
    return undefined
  }
}

/**
 * The first of `messages` that `address` signed with `signature`, or undefined. Several
 * messages because a v1 login names no nonce: each outstanding one is a candidate.
 */
export async function findSignedMessage(
  w: Pick<WriteContext, 'publicClient'>, address: Address, messages: readonly string[], signature: Hex,
): Promise<string | undefined> {
  for (const message of messages) {
    if ((await recoverSigner(message, signature)) === address) return message
  }
  // Not an ordinary account's signature of any candidate: perhaps a contract wallet's. One
  // eth_getCode spares the calls when the address is an ordinary account.
  try {
    if (!isErc6492Signature(signature)) {
      const code = await w.publicClient.getCode({ address })
      if (!code || code === '0x') return undefined
    }
    for (const message of messages) {
      if (await w.publicClient.verifyMessage({ address, message, signature })) return message
    }
  } catch {
    throw new WriteError(503, 'could not check the signature with the chain (a smart-contract wallet is verified by a call to it); try again')
  }
  return undefined
}
