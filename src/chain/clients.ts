import { createPublicClient, createWalletClient, http, type Chain, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

export function createChainPublicClient(rpcUrl: string, chain: Chain) {
  return createPublicClient({ chain, transport: http(rpcUrl, { retryCount: 3 }), pollingInterval: 250 })
}

export function createChainWalletClient(rpcUrl: string, chain: Chain, privateKey: Hex) {
  return createWalletClient({ chain, account: privateKeyToAccount(privateKey), transport: http(rpcUrl, { retryCount: 3 }) })
}

export type ChainPublicClient = ReturnType<typeof createChainPublicClient>
export type ChainWalletClient = ReturnType<typeof createChainWalletClient>
