/**
 * A local chain for tests: anvil with the real Haithe contracts deployed by the anvil deployer
 * key (deployer = owner = server), plus deterministic funded wallets. One per test file:
 *
 *   let dev: DevChain
 *   beforeAll(async () => { dev = await startDevChain() })
 *   afterAll(() => dev?.stop())
 */
import {
  BaseError,
  ContractFunctionRevertedError,
  createTestClient,
  decodeErrorResult,
  http,
  keccak256,
  parseEther,
  parseEventLogs,
  stringToHex,
  type Abi,
  type Address,
  type Chain,
  type ContractEventName,
  type Hash,
  type Hex,
  type Log,
  type ParseEventLogsReturnType,
  type TransactionReceipt,
} from 'viem'
import {
  ANVIL_CHAIN_ID,
  ANVIL_DEPLOYER_KEY,
  createChainPublicClient,
  createChainWalletClient,
  deployContracts,
  haitheCreatorIdentityAbi,
  haitheOrchestratorAbi,
  haitheOrganizationAbi,
  haitheProductAbi,
  startAnvil,
  testUSDTAbi,
  toViemChain,
  type Anvil,
  type AnvilOptions,
  type ChainPublicClient,
  type ChainWalletClient,
  type Deployment,
} from '../../src/chain/index.js'
import type { ChainConfig } from '../../src/config/index.js'

/** The chain configuration the indexer and read API use for this dev chain (lowercase addresses). */
export function devChainConfig(dev: DevChain, options: { finalityDepth?: number; pollingIntervalMs?: number; rpcUrl?: string } = {}): ChainConfig {
  const d = dev.deployment
  const lower = (address: string) => address.toLowerCase() as `0x${string}`
  return {
    name: 'anvil',
    chainId: d.chainId,
    rpcUrl: options.rpcUrl ?? dev.anvil.rpcUrl,
    explorerUrl: null,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    testnet: true,
    finalityDepth: options.finalityDepth ?? 12,
    pollingIntervalMs: options.pollingIntervalMs ?? 50,
    contracts: { tusdt: lower(d.tusdt), orchestrator: lower(d.orchestrator), creatorIdentity: lower(d.creatorIdentity), startBlock: d.startBlock },
  }
}

export interface DevChainOptions {
  anvil?: AnvilOptions
  /** tUSDT minted to the deployer (base units); default one billion tUSDT. */
  initialSupply?: bigint
  /** Native balance given to each extra wallet; default 1,000 ETH. */
  walletBalance?: bigint
}

export interface DevChain {
  anvil: Anvil
  chain: Chain
  publicClient: ChainPublicClient
  /** anvil's test actions (setBalance, snapshot, revert, mine, ...). */
  testClient: ReturnType<typeof createDevTestClient>
  /** The deployer: owner of every contract and the orchestrator's server. */
  server: ChainWalletClient
  deployment: Deployment
  /** A funded wallet for the deterministic extra account `index` (same key on every run). */
  wallet(index: number): Promise<ChainWalletClient>
  stop(): Promise<void>
}

/** The private key of extra wallet `index`: keccak256 of a fixed label, so runs are reproducible. */
export function devWalletKey(index: number): Hex {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`wallet index must be a non-negative integer, got ${index}`)
  return keccak256(stringToHex(`haithe-devchain-wallet:${index}`))
}

function createDevTestClient(rpcUrl: string, chain: Chain) {
  return createTestClient({ mode: 'anvil', chain, transport: http(rpcUrl) })
}

export async function startDevChain(options: DevChainOptions = {}): Promise<DevChain> {
  const anvil = await startAnvil(options.anvil)
  try {
    const chain = toViemChain({
      name: 'anvil',
      chainId: options.anvil?.chainId ?? ANVIL_CHAIN_ID,
      rpcUrl: anvil.rpcUrl,
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    })
    const publicClient = createChainPublicClient(anvil.rpcUrl, chain)
    const testClient = createDevTestClient(anvil.rpcUrl, chain)
    const server = createChainWalletClient(anvil.rpcUrl, chain, ANVIL_DEPLOYER_KEY)
    const deployment = await deployContracts({
      publicClient,
      walletClient: server,
      ...(options.initialSupply !== undefined ? { initialSupply: options.initialSupply } : {}),
      faucetEnabled: true,
    })

    const walletBalance = options.walletBalance ?? parseEther('1000')
    const wallets = new Map<number, Promise<ChainWalletClient>>()
    const wallet = (index: number): Promise<ChainWalletClient> => {
      let pending = wallets.get(index)
      if (!pending) {
        const client = createChainWalletClient(anvil.rpcUrl, chain, devWalletKey(index))
        pending = testClient.setBalance({ address: client.account.address, value: walletBalance }).then(() => client)
        wallets.set(index, pending)
      }
      return pending
    }

    return { anvil, chain, publicClient, testClient, server, deployment, wallet, stop: () => anvil.stop() }
  } catch (err) {
    await anvil.stop()
    throw err
  }
}

/** Waits for the receipt of `hash` and throws unless the transaction succeeded. */
export async function waitForSuccess(publicClient: ChainPublicClient, hash: Hash): Promise<TransactionReceipt> {
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new Error(`transaction ${hash} reverted (block ${receipt.blockNumber})`)
  return receipt
}

/** Decodes a receipt's logs against `abi` (strictly), optionally only one event name and/or emitter. */
export function decodeLogs<
  const abi extends Abi,
  eventName extends ContractEventName<abi> | ContractEventName<abi>[] | undefined = undefined,
>(
  abi: abi,
  receipt: { logs: readonly Log[] },
  filter: { eventName?: eventName; address?: Address } = {},
): ParseEventLogsReturnType<abi, eventName, true> {
  const logs = filter.address
    ? receipt.logs.filter((log) => log.address.toLowerCase() === filter.address?.toLowerCase())
    : receipt.logs
  return parseEventLogs({ abi, logs: [...logs], eventName: filter.eventName, strict: true }) as ParseEventLogsReturnType<abi, eventName, true>
}

/** Every custom error of the Haithe contracts, to name a revert that bubbled up from another contract. */
const knownErrors = [
  ...testUSDTAbi,
  ...haitheOrchestratorAbi,
  ...haitheOrganizationAbi,
  ...haitheProductAbi,
  ...haitheCreatorIdentityAbi,
].filter((item) => item.type === 'error')

export interface Revert {
  errorName: string
  args: readonly unknown[]
}

/**
 * Awaits `action` (a simulateContract / writeContract / readContract call), which must revert,
 * and returns the custom error it reverted with. Throws if it did not revert.
 */
export async function revertOf(action: Promise<unknown>): Promise<Revert> {
  let error: unknown
  try {
    await action
  } catch (err) {
    error = err
  }
  if (error === undefined) throw new Error('expected a revert, but the call succeeded')
  const reverted = error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : null
  if (!(reverted instanceof ContractFunctionRevertedError)) throw error
  if (reverted.data) return { errorName: reverted.data.errorName, args: reverted.data.args ?? [] }
  if (reverted.raw && reverted.raw !== '0x') {
    const decoded = decodeErrorResult({ abi: knownErrors, data: reverted.raw })
    return { errorName: decoded.errorName, args: decoded.args ?? [] }
  }
  return { errorName: reverted.reason ?? '(no reason)', args: [] }
}
