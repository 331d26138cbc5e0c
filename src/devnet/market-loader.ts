/**
 * Rebuilds the simulator's view of the market from the chain, so that `haithe dev` resumes
 * on a persisted chain. Only actors whose keys the seed derives can act; others are left out.
 */
import type { Address } from 'viem'
import { haitheCreatorIdentityAbi, haitheOrchestratorAbi, haitheOrganizationAbi, haitheProductAbi, testUSDTAbi } from '../chain/index.js'
import type { MarketChain } from './market-chain.js'
import { emptyMarketState, type MarketState, type SimCreator } from './market-state.js'
import { deriveWallet, type SimWallet } from './wallets.js'

export async function loadMarketState(chain: MarketChain, seed: number): Promise<MarketState> {
  const client = chain.publicClient
  const { orchestrator, creatorIdentity, tusdt } = chain.deployment
  const state = emptyMarketState()
  const read = <T>(address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[] = []) =>
    client.readContract({ address, abi, functionName, args } as never) as Promise<T>

  const [orgCount, productCount] = await Promise.all([
    read<bigint>(orchestrator, haitheOrchestratorAbi, 'organizationsCount'),
    read<bigint>(orchestrator, haitheOrchestratorAbi, 'productsCount'),
  ])

  state.organizationsOnChain = Number(orgCount)
  state.productsOnChain = Number(productCount)

  // Derived wallets exist on chain once they were given gas; the indices are contiguous.
  const derive = async (role: 'creator' | 'owner', keep: (w: SimWallet) => Promise<boolean>) => {
    const found: SimWallet[] = []
    for (let i = 0; ; i++) {
      const wallet = deriveWallet(seed, role, i)
      if (!(await keep(wallet))) return found
      found.push(wallet)
    }
  }

  for (const wallet of await derive('creator', async (w) => (await read<bigint>(orchestrator, haitheOrchestratorAbi, 'creators', [w.address])) > 0n)) {
    const tokenId = await read<bigint>(orchestrator, haitheOrchestratorAbi, 'creators', [wallet.address])
    const funds = await read<bigint>(creatorIdentity, haitheCreatorIdentityAbi, 'funds', [tokenId])
    state.creators.push({ wallet, tokenId, funds })
  }
  state.owners = await derive('owner', async (w) => (await client.getBalance({ address: w.address })) > 0n)
  for (const owner of state.owners) state.ownerBalances.set(owner.address, await read<bigint>(tusdt, testUSDTAbi, 'balanceOf', [owner.address]))

  const creatorsByAddress = new Map<Address, SimCreator>(state.creators.map((c) => [c.wallet.address.toLowerCase() as Address, c]))
  for (let i = 0n; i < productCount; i++) {
    const address = await read<Address>(orchestrator, haitheOrchestratorAbi, 'products', [i])
    const creator = creatorsByAddress.get((await read<Address>(address, haitheProductAbi, 'creator')).toLowerCase() as Address)
    if (!creator) continue
    const [category, price] = await Promise.all([read<string>(address, haitheProductAbi, 'category'), read<bigint>(address, haitheProductAbi, 'pricePerCall')])
    state.products.push({ address, creator, category, price })
  }

  const known = new Set(state.products.map((p) => p.address))
  const ownersByAddress = new Map(state.owners.map((o) => [o.address.toLowerCase(), o]))
  for (let i = 0n; i < orgCount; i++) {
    const address = await read<Address>(orchestrator, haitheOrchestratorAbi, 'organizations', [i])
    const owner = ownersByAddress.get((await read<Address>(address, haitheOrganizationAbi, 'owner')).toLowerCase())
    if (!owner) continue
    const [name, balance, enabled] = await Promise.all([
      read<string>(address, haitheOrganizationAbi, 'name'),
      read<bigint>(tusdt, testUSDTAbi, 'balanceOf', [address]),
      read<readonly Address[]>(address, haitheOrganizationAbi, 'getEnabledProducts'),
    ])
    state.organizations.push({ address, name, owner, balance, enabled: enabled.filter((p) => known.has(p)) })
  }
  return state
}
