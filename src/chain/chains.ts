import { defineChain, type Chain } from 'viem'

/** What config/chains/<name>.json says about a chain. */
export interface ChainFacts {
  name: string
  chainId: number
  rpcUrl: string
  explorerUrl?: string | undefined
  nativeCurrency: { name: string; symbol: string; decimals: number }
}

/** A viem chain from the configured facts (Metis Hyperion is not in viem's chain list). */
export function toViemChain(facts: ChainFacts): Chain {
  return defineChain({
    id: facts.chainId,
    name: facts.name,
    nativeCurrency: facts.nativeCurrency,
    rpcUrls: { default: { http: [facts.rpcUrl] } },
    ...(facts.explorerUrl ? { blockExplorers: { default: { name: 'Explorer', url: facts.explorerUrl } } } : {}),
  })
}
