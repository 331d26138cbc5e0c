/**
 * `haithe simulate --events N`: puts N events on a local chain as fast as it takes them, for
 * benchmarks. A small market is set up with the simulator, then the server settles usage in
 * large batches: transactions signed locally, sent in JSON-RPC batches, many per block.
 */
import { encodeFunctionData, encodePacked, keccak256, parseUnits, type Hex } from 'viem'
import type { Logger } from 'pino'
import { haitheOrchestratorAbi, testUSDTAbi } from '../chain/index.js'
import type { MarketChain } from './market-chain.js'
import { createRandom } from './random.js'
import { createMarketSimulator } from './simulator.js'

export interface BulkEventsOptions {
  chain: MarketChain
  seed: number
  events: number
  /** Products charged per settlement; each adds one CreatorPaid event. */
  linesPerSettlement?: number
  /** Signed transactions sent per JSON-RPC batch before mining. */
  transactionsPerBatch?: number
  logger?: Logger
}

export interface BulkEventsResult {
  events: number
  transactions: number
  blocks: number
  seconds: number
  fromBlock: bigint
  toBlock: bigint
}

const weightsForNothing = {
  registerCreator: 0, publishProduct: 0, createOrganization: 0, fundOrganization: 0, enableProduct: 0,
  disableProduct: 0, changePrice: 0, settleUsage: 0, withdrawFunds: 0, transferOwnership: 0,
}

export async function simulateEvents(options: BulkEventsOptions): Promise<BulkEventsResult> {
  const { chain, seed, logger } = options
  const lines = options.linesPerSettlement ?? 40
  const perBatch = options.transactionsPerBatch ?? 200
  const started = performance.now()
  const fromBlock = (await chain.publicClient.getBlockNumber({ cacheTime: 0 })) + 1n

  // 1. A market to settle against: creators, products, organizations with every product enabled.
  const sim = await createMarketSimulator({ chain, seed, weights: weightsForNothing })
  while (sim.state.creators.length < 10) await sim.act('registerCreator')
  while (sim.state.products.length < lines) await sim.act('publishProduct')
  while (sim.state.organizations.length < 10) await sim.act('createOrganization')
  for (const org of sim.state.organizations) while (org.enabled.length < lines) await sim.act('enableProduct')
  let events = sim.totals.events
  let transactions = sim.totals.transactions
  logger?.info({ events, transactions }, 'bulk: market set up')

  // 2. Settlements, signed locally with consecutive nonces.
  const server = chain.server.account
  const random = createRandom(seed + 1)
  const modelFee = parseUnits('0.0001', 18)
  const topUp = parseUnits('100000', 18)
  const gasPrice = parseUnits('2', 9)
  let nonce = await chain.publicClient.getTransactionCount({ address: server.address, blockTag: 'pending' })
  let settlementGas: bigint | undefined
  let blocks = 0
  const eventsPerSettlement = lines + 5 // CreatorPaid × lines, 2 Transfers, ModelFeePaid, OrganizationExpenditure, UsageSettled

  const sign = (to: Hex, data: Hex, gas: bigint) =>
    server.signTransaction({ chainId: chain.publicClient.chain.id, type: 'legacy', to, data, gas, gasPrice, nonce: nonce++ })

  await chain.anvil.setAutomine(false)
  try {
  while (events < options.events) {
    const raw: Hex[] = []
    const firstNonce = nonce
    while (raw.length < perBatch && events < options.events) {
      const org = random.pick(sim.state.organizations)
      const calls = random.int(1, 20)
      const products = sim.state.products.slice(0, lines)
      const counts = products.map(() => BigInt(random.int(1, calls)))
      const amounts = products.map((p, i) => p.price * counts[i]!)
      const fee = modelFee * BigInt(calls)
      const total = amounts.reduce((a, b) => a + b, fee)
      if (org.balance < total) {
        raw.push(await sign(chain.deployment.tusdt, encodeFunctionData({ abi: testUSDTAbi, functionName: 'transfer', args: [org.address, topUp] }), 80_000n))
        org.balance += topUp
        events += 1
      }
      const batchId = keccak256(encodePacked(['string', 'uint256', 'address', 'uint256'], ['haithe-bulk', BigInt(seed), server.address, BigInt(nonce)]))
      const data = encodeFunctionData({
        abi: haitheOrchestratorAbi,
        functionName: 'settleUsage',
        args: [org.address, batchId, products.map((p) => p.address), amounts, counts, fee, BigInt(calls)],
      })
      // The first settlement costs the most (creators' funds go from zero): size the rest by it.
      settlementGas ??= ((await chain.publicClient.estimateGas({ account: server.address, to: chain.deployment.orchestrator, data })) * 5n) / 4n
      raw.push(await sign(chain.deployment.orchestrator, data, settlementGas))
      org.balance -= total
      events += eventsPerSettlement
    }
    transactions += raw.length
    await sendRawBatch(chain, raw)
    blocks += await mineUntilEmpty(chain, gasPrice)
    // anvil's pool can drop a transaction under load, leaving the later ones queued behind the
    // gap: resend from the first missing nonce, so that every counted event is really on chain.
    for (let attempt = 1; ; attempt++) {
      const mined = await chain.publicClient.getTransactionCount({ address: server.address, blockTag: 'latest' })
      if (mined === nonce) break
      if (attempt > 3) throw new Error(`bulk: transactions from nonce ${mined} were never mined (anvil dropped them)`)
      await sendRawBatch(chain, raw.slice(mined - firstNonce), { ignoreKnown: true })
      blocks += await mineUntilEmpty(chain, gasPrice)
    }
    logger?.info({ events, transactions, blocks }, `bulk: ${events} of ${options.events} events`)
  }
  } finally {
    await chain.anvil.setAutomine(true)
  }

  const toBlock = await chain.publicClient.getBlockNumber({ cacheTime: 0 })
  // Every settlement must have succeeded for the event count to be true: check the last one.
  const last = await chain.publicClient.getBlock({ blockNumber: toBlock, includeTransactions: false })
  const lastHash = last.transactions.at(-1)
  if (lastHash && (await chain.publicClient.getTransactionReceipt({ hash: lastHash })).status !== 'success') {
    throw new Error(`bulk settlement ${lastHash} reverted`)
  }
  return { events, transactions, blocks, seconds: (performance.now() - started) / 1000, fromBlock, toBlock }
}

async function sendRawBatch(chain: MarketChain, raw: Hex[], options: { ignoreKnown?: boolean } = {}): Promise<void> {
  const url = chain.publicClient.transport.url as string
  const body = raw.map((tx, id) => ({ jsonrpc: '2.0', id, method: 'eth_sendRawTransaction', params: [tx] }))
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const results = (await response.json()) as { error?: { message: string } }[]
  // On a resend, the transactions the pool still holds are refused as known: that is fine.
  const failed = results.find((r) => r.error && !(options.ignoreKnown && /already (known|imported)|nonce too low/i.test(r.error.message)))
  if (failed) throw new Error(`eth_sendRawTransaction failed: ${failed.error!.message}`)
}

/** Mines until the pool is empty, holding the base fee down so full blocks do not price us out. */
async function mineUntilEmpty(chain: MarketChain, gasPrice: bigint): Promise<number> {
  let mined = 0
  for (;;) {
    const status = (await chain.publicClient.request({ method: 'txpool_status' } as never)) as { pending: Hex }
    if (BigInt(status.pending) === 0n) return mined
    await chain.anvil.setNextBlockBaseFeePerGas({ baseFeePerGas: gasPrice / 2n })
    await chain.anvil.mine({ blocks: 1 })
    mined += 1
  }
}
