/**
 * `haithe simulate --events N`: N events on a local anvil chain as fast as it takes them
 * (for benchmarks). Deploys the contracts first if the configured addresses hold no code.
 */
import type { Address } from 'viem'
import { ANVIL_DEPLOYER_KEY, createChainPublicClient, createChainWalletClient, deployContracts, toViemChain, type Deployment } from '../chain/index.js'
import type { Context } from '../context.js'
import { createMarketChain, simulateEvents } from '../devnet/index.js'

export class NotAnvilError extends Error {
  override name = 'NotAnvilError'
}

export interface SimulateOptions {
  events: number
  seed: number
  rpcUrl: string
}

export async function runSimulate(ctx: Context, options: SimulateOptions): Promise<void> {
  const { config, logger } = ctx
  const chain = toViemChain({ ...config.chain, rpcUrl: options.rpcUrl, explorerUrl: undefined })
  const publicClient = createChainPublicClient(options.rpcUrl, chain)
  const version = await publicClient.request({ method: 'web3_clientVersion' }).catch((err: Error) => {
    throw new NotAnvilError(`cannot reach a chain at ${options.rpcUrl} (--rpc or BLOCKCHAIN_PROVIDER_URL): ${err.message.split('\n')[0]}`)
  })
  if (!String(version).startsWith('anvil')) throw new NotAnvilError(`simulate needs a local anvil chain; ${options.rpcUrl} is ${version}`)

  const configured = config.chain.contracts
  let deployment: Deployment
  if ((await publicClient.getCode({ address: configured.orchestrator as Address })) !== undefined) {
    deployment = {
      chainId: chain.id,
      deployer: createChainWalletClient(options.rpcUrl, chain, ANVIL_DEPLOYER_KEY).account.address,
      tusdt: configured.tusdt,
      orchestrator: configured.orchestrator,
      creatorIdentity: configured.creatorIdentity,
      startBlock: configured.startBlock,
    }
  } else {
    deployment = await deployContracts({ publicClient, walletClient: createChainWalletClient(options.rpcUrl, chain, ANVIL_DEPLOYER_KEY) })
    logger.info(deployment, 'contracts deployed')
  }

  const market = createMarketChain({ rpcUrl: options.rpcUrl, chain, deployment, serverKey: ANVIL_DEPLOYER_KEY })
  const result = await simulateEvents({ chain: market, seed: options.seed, events: options.events, logger })
  const rate = Math.round(result.events / result.seconds)
  logger.info(
    { ...result, fromBlock: Number(result.fromBlock), toBlock: Number(result.toBlock), eventsPerSecond: rate },
    `simulated ${result.events} events in ${result.transactions} transactions over blocks ${result.fromBlock}–${result.toBlock} (${rate} events/s)`,
  )
}
