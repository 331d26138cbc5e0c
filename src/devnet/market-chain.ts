/**
 * The simulator's handle on a local chain: one wallet client per actor, gas money from anvil,
 * and transactions that must succeed (a revert is a simulator bug, reported with its hash).
 */
import { createTestClient, http, parseEther, type Address, type Chain, type Hash, type Hex, type TransactionReceipt } from 'viem'
import { createChainPublicClient, createChainWalletClient, type ChainWalletClient, type Deployment } from '../chain/index.js'
import type { SimWallet } from './wallets.js'

export class SimulatorTransactionError extends Error {
  override name = 'SimulatorTransactionError'
}

export interface MarketChainOptions {
  rpcUrl: string
  chain: Chain
  deployment: Deployment
  serverKey: Hex
}

export function createMarketChain(options: MarketChainOptions) {
  const publicClient = createChainPublicClient(options.rpcUrl, options.chain)
  const server = createChainWalletClient(options.rpcUrl, options.chain, options.serverKey)
  const anvil = createTestClient({ mode: 'anvil', chain: options.chain, transport: http(options.rpcUrl) })
  const wallets = new Map<Address, ChainWalletClient>()

  return {
    publicClient,
    server,
    anvil,
    deployment: options.deployment,

    walletFor(wallet: SimWallet): ChainWalletClient {
      let client = wallets.get(wallet.address)
      if (!client) {
        client = createChainWalletClient(options.rpcUrl, options.chain, wallet.privateKey)
        wallets.set(wallet.address, client)
      }
      return client
    },

    /** Gives a new actor native coin for gas (anvil only). */
    async fundGas(address: Address): Promise<void> {
      await anvil.setBalance({ address, value: parseEther('1000') })
    },

    async confirm(pending: Promise<Hash>, what: string): Promise<TransactionReceipt> {
      const hash = await pending
      // A local chain mines at once: poll the receipt itself, often (viem's watcher can wait for a
      // next block that nobody makes).
      const deadline = Date.now() + 60_000
      let receipt: TransactionReceipt | undefined
      while (!(receipt = await publicClient.getTransactionReceipt({ hash }).catch(() => undefined))) {
        if (Date.now() > deadline) throw new SimulatorTransactionError(`${what}: no receipt within 60 s (tx ${hash})`)
        await new Promise((r) => setTimeout(r, 10))
      }
      if (receipt.status !== 'success') throw new SimulatorTransactionError(`${what} reverted (tx ${hash})`)
      return receipt
    },
  }
}

export type MarketChain = ReturnType<typeof createMarketChain>
