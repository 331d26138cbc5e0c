/**
 * The local chain of `haithe dev`: anvil with its state persisted under the data directory,
 * the contracts deployed once and the deployment recorded beside it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import {
  ANVIL_DEPLOYER_KEY,
  createChainPublicClient,
  createChainWalletClient,
  deployContracts,
  startAnvil,
  toViemChain,
  type Anvil,
  type Deployment,
} from '../chain/index.js'
import type { ChainConfig } from '../config/index.js'

export interface Devnet {
  anvil: Anvil
  deployment: Deployment
  /** The chain configuration with the live RPC URL and the deployed addresses. */
  chain: ChainConfig
  serverKey: `0x${string}`
}

export interface DevnetOptions {
  dataDir: string
  chain: ChainConfig
  logger: Logger
  /** Keep the chain across restarts (default true). */
  persist?: boolean
}

export async function startDevnet(options: DevnetOptions): Promise<Devnet> {
  const dir = path.join(options.dataDir, 'devnet')
  mkdirSync(dir, { recursive: true })
  const deploymentFile = path.join(dir, 'deployment.json')
  const anvil = await startAnvil({ chainId: options.chain.chainId, ...(options.persist === false ? {} : { statePath: path.join(dir, 'anvil-state.json') }) })
  try {
    const viemChain = toViemChain({ ...options.chain, rpcUrl: anvil.rpcUrl, explorerUrl: undefined })
    const publicClient = createChainPublicClient(anvil.rpcUrl, viemChain)

    let deployment = existsSync(deploymentFile) ? (JSON.parse(readFileSync(deploymentFile, 'utf8')) as Deployment) : undefined
    if (deployment && (await publicClient.getCode({ address: deployment.orchestrator })) === undefined) deployment = undefined
    if (deployment) {
      options.logger.info({ orchestrator: deployment.orchestrator, head: Number(await publicClient.getBlockNumber()) }, 'devnet: resumed the persisted chain')
    } else {
      deployment = await deployContracts({ publicClient, walletClient: createChainWalletClient(anvil.rpcUrl, viemChain, ANVIL_DEPLOYER_KEY), faucetEnabled: true })
      writeFileSync(deploymentFile, JSON.stringify(deployment, null, 2) + '\n')
      options.logger.info({ ...deployment, file: deploymentFile }, 'devnet: contracts deployed')
    }

    const chain: ChainConfig = {
      ...options.chain,
      rpcUrl: anvil.rpcUrl,
      contracts: {
        tusdt: deployment.tusdt.toLowerCase() as `0x${string}`,
        orchestrator: deployment.orchestrator.toLowerCase() as `0x${string}`,
        creatorIdentity: deployment.creatorIdentity.toLowerCase() as `0x${string}`,
        startBlock: deployment.startBlock,
      },
    }
    return { anvil, deployment, chain, serverKey: ANVIL_DEPLOYER_KEY }
  } catch (err) {
    await anvil.stop()
    throw err
  }
}
