import { encodePacked, keccak256, type Address, type Hex } from 'viem'
import { privateKeyToAddress } from 'viem/accounts'

export interface SimWallet {
  address: Address
  privateKey: Hex
}

/** The simulator's actors: the same seed, role and index always give the same key. */
export function deriveWallet(seed: number, role: 'creator' | 'owner', index: number): SimWallet {
  const privateKey = keccak256(encodePacked(['string', 'uint256', 'string', 'uint256'], ['haithe-sim', BigInt(seed), role, BigInt(index)]))
  return { address: privateKeyToAddress(privateKey), privateKey }
}
