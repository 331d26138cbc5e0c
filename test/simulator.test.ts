/**
 * The market simulator on a real anvil with the real contracts: the same seed gives the same
 * activity, its bookkeeping agrees with the chain, it resumes on a persisted chain, and the
 * bulk mode's event count is the number of logs really on chain.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEventLogs, type Log } from 'viem'
import { haitheOrchestratorAbi } from '../src/chain/index.js'
import { loadConfig } from '../src/config/index.js'
import { createMarketChain, createMarketSimulator, productCategories, simulateEvents, type MarketState } from '../src/devnet/index.js'
import { ANVIL_DEPLOYER_KEY } from '../src/chain/index.js'
import { startDevChain, type DevChain } from './support/devchain.js'

const weights = loadConfig({ env: {} }).simulator.weights

function marketOn(dev: DevChain) {
  return createMarketChain({ rpcUrl: dev.anvil.rpcUrl, chain: dev.chain, deployment: dev.deployment, serverKey: ANVIL_DEPLOYER_KEY })
}

/** Every log after the deployment, reduced to what the market did (no block numbers or hashes). */
async function activity(dev: DevChain) {
  const logs = await dev.publicClient.getLogs({ fromBlock: BigInt(dev.deployment.startBlock), toBlock: 'latest' })
  return logs.map((log: Log) => [log.address.toLowerCase(), ...log.topics, log.data].join(':'))
}

async function runSteps(dev: DevChain, seed: number, steps: number) {
  const sim = await createMarketSimulator({ chain: marketOn(dev), seed, weights })
  const summaries: string[] = []
  for (let i = 0; i < steps; i++) summaries.push((await sim.step()).summary)
  return { sim, summaries }
}

/** The parts of the simulator's state the chain can confirm, in a comparable form. */
function comparable(state: MarketState) {
  return {
    creators: state.creators.map((c) => [c.wallet.address, c.tokenId, c.funds]),
    products: state.products.map((p) => [p.address, p.creator.tokenId, p.category, p.price]),
    organizations: state.organizations.map((o) => [o.address, o.name, o.owner.address, o.balance, [...o.enabled].sort()]),
    owners: state.owners.map((o) => [o.address, state.ownerBalances.get(o.address)]),
  }
}

describe('market simulator', () => {
  const chains: DevChain[] = []
  const freshChain = async () => {
    const dev = await startDevChain()
    chains.push(dev)
    return dev
  }
  afterAll(async () => {
    await Promise.all(chains.map((c) => c.stop()))
  })

  let first: DevChain
  let firstRun: Awaited<ReturnType<typeof runSteps>>
  beforeAll(async () => {
    first = await freshChain()
    firstRun = await runSteps(first, 42, 60)
  })

  it('gives the same on-chain activity for the same seed on a fresh chain', async () => {
    const second = await freshChain()
    const secondRun = await runSteps(second, 42, 60)
    expect(secondRun.summaries).toEqual(firstRun.summaries)
    const [a, b] = await Promise.all([activity(first), activity(second)])
    expect(a.length).toBeGreaterThan(60)
    expect(b).toEqual(a)
  })

  it('gives different activity for a different seed', async () => {
    const other = await freshChain()
    const otherRun = await runSteps(other, 43, 60)
    expect(otherRun.summaries).not.toEqual(firstRun.summaries)
  })

  it('performs every kind of market action over a run', () => {
    const kinds = new Set(firstRun.summaries.map((s) => s.split(' ')[0]))
    expect(kinds.size).toBeGreaterThan(3)
    expect(firstRun.sim.totals.actions).toBe(60)
    expect(firstRun.sim.totals.events).toBeGreaterThan(firstRun.sim.totals.actions)
  })

  it('keeps books that agree with the chain, so it resumes where it stopped', async () => {
    const resumed = await createMarketSimulator({ chain: marketOn(first), seed: 42, weights })
    expect(comparable(resumed.state)).toEqual(comparable(firstRun.sim.state))
    // And it carries on from there without a revert.
    for (let i = 0; i < 10; i++) await resumed.step()
  })

  it('publishes products of every category', async () => {
    const dev = await freshChain()
    const sim = await createMarketSimulator({ chain: marketOn(dev), seed: 7, weights })
    await sim.act('registerCreator')
    for (let i = 0; i < productCategories.length; i++) await sim.act('publishProduct')
    const logs = await dev.publicClient.getLogs({ address: dev.deployment.orchestrator, fromBlock: 0n, toBlock: 'latest' })
    const created = parseEventLogs({ abi: haitheOrchestratorAbi, eventName: 'ProductCreated', logs })
    expect(new Set(created.map((e) => e.args.category))).toEqual(new Set(productCategories))
  })

  it('bulk mode reports exactly the number of events it put on chain', async () => {
    const dev = await freshChain()
    const result = await simulateEvents({ chain: marketOn(dev), seed: 3, events: 3_000, linesPerSettlement: 12 })
    const logs = await dev.publicClient.getLogs({ fromBlock: result.fromBlock, toBlock: result.toBlock })
    expect(result.events).toBeGreaterThanOrEqual(3_000)
    expect(logs.length).toBe(result.events)
    // Settlements share blocks: far fewer blocks than transactions.
    expect(result.blocks).toBeLessThan(result.transactions / 2)
  })
})
