/** Deploys the Haithe contracts (tUSDT, orchestrator, which deploys the identity NFT). */
import { parseUnits, type Address, type Hash } from 'viem'
import { haitheOrchestratorAbi, haitheOrchestratorBytecode, testUSDTAbi, testUSDTBytecode } from './abi/index.js'
import type { ChainPublicClient, ChainWalletClient } from './clients.js'

export interface Deployment {
  chainId: number
  deployer: Address
  tusdt: Address
  orchestrator: Address
  creatorIdentity: Address
  /** The first block the indexer must read: the block of the tUSDT deployment. */
  startBlock: number
}

export interface DeployOptions {
  publicClient: ChainPublicClient
  walletClient: ChainWalletClient
  /** tUSDT minted to the deployer (base units); default one billion tUSDT. */
  initialSupply?: bigint
  /** Allow faucet minting; only on test chains. */
  faucetEnabled?: boolean
}

export async function deployContracts(options: DeployOptions): Promise<Deployment> {
  const { publicClient, walletClient } = options
  const account = walletClient.account

  const confirmed = async (hash: Hash) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success' || !receipt.contractAddress) throw new Error(`deployment transaction ${hash} failed`)
    return receipt
  }

  const tusdtReceipt = await confirmed(
    await walletClient.deployContract({
      abi: testUSDTAbi,
      bytecode: testUSDTBytecode,
      args: [options.initialSupply ?? parseUnits('1000000000', 18), options.faucetEnabled ?? true],
    }),
  )
  const tusdt = tusdtReceipt.contractAddress as Address
  const orchestratorReceipt = await confirmed(
    await walletClient.deployContract({ abi: haitheOrchestratorAbi, bytecode: haitheOrchestratorBytecode, args: [tusdt] }),
  )
  const orchestrator = orchestratorReceipt.contractAddress as Address
  const creatorIdentity = await publicClient.readContract({ address: orchestrator, abi: haitheOrchestratorAbi, functionName: 'creatorIdentity' })

  return {
    chainId: await publicClient.getChainId(),
    deployer: account.address,
    tusdt,
    orchestrator,
    creatorIdentity,
    startBlock: Number(tusdtReceipt.blockNumber),
  }
}
