/**
 * The backfill fetcher against anvil and the real contracts, over the shape that used to cost a
 * backfill seconds: hundreds of quiet blocks (a market being set up), then blocks of thousands of
 * logs. Every log comes once, in order, and ranges grown over the quiet blocks are sampled at their
 * end rather than sent for the node to build in full only for the byte cap to refuse them.
 */
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchHistorical } from '../indexer/sync/historical.js'
import { createRangeSizer } from '../indexer/sync/ranges.js'
import { createRpcClient, rpcRequestsMetricName } from '../indexer/sync/rpc.js'
import { ANVIL_DEPLOYER_KEY } from '../src/chain/index.js'
import { loadConfig } from '../src/config/index.js'
import { createMarketChain, simulateEvents } from '../src/devnet/index.js'
import { startDevChain, type DevChain } from './support/devchain.js'

const tuning = loadConfig({ env: {} }).indexer
let dev: DevChain
let head: number

beforeAll(async () => {
  dev = await startDevChain()
  const market = createMarketChain({ rpcUrl: dev.anvil.rpcUrl, chain: dev.chain, deployment: dev.deployment, serverKey: ANVIL_DEPLOYER_KEY })
  await simulateEvents({ chain: market, seed: 3, events: 20_000 })
  head = Number(await dev.publicClient.getBlockNumber({ cacheTime: 0 }))
}, 120_000)

afterAll(async () => {
  await dev?.stop()
})

describe('backfill fetching', () => {
  it('fetches quiet blocks then busy ones in order, every log once, sampling long ranges instead of having the node build them to refuse them', async () => {
    const { orchestrator, creatorIdentity, tusdt } = dev.deployment
    const sources = { fixed: [orchestrator, creatorIdentity, tusdt].map((a) => a.toLowerCase()) }
    const registry = new Registry()
    // The indexer's own settings: the byte cap is what refuses a range grown too far.
    const rpc = createRpcClient({ url: dev.anvil.rpcUrl, metrics: registry, maxResponseBytes: Math.max(4 * 2 ** 20, tuning.targetLogs * 2048) })
    const sizer = createRangeSizer({ initialBlocks: tuning.initialBlocks, maxBlocks: tuning.maxBlocks, targetLogs: tuning.targetLogs })
    const fetched: { block: number; logIndex: number }[] = []
    const rangeSizes: number[] = []
    let expectedFrom = 1
    // One request at a time: the same sequence of ranges on every run.
    for await (const range of fetchHistorical({ rpc, sources, sizer, from: 1, to: head, concurrency: 1, targetLogs: tuning.targetLogs })) {
      expect(range.from).toBe(expectedFrom)
      expectedFrom = range.to + 1
      rangeSizes.push(range.logs.length)
      for (const log of range.logs) fetched.push({ block: log.block, logIndex: log.logIndex })
    }
    expect(expectedFrom).toBe(head + 1)

    // Every log of the chain, block by block, straight from anvil.
    const all: { block: number; logIndex: number }[] = []
    for (let block = 1; block <= head; block++) {
      const logs = await dev.publicClient.getLogs({ fromBlock: BigInt(block), toBlock: BigInt(block) })
      for (const log of logs) all.push({ block, logIndex: log.logIndex })
    }
    expect(fetched.length).toBeGreaterThan(20_000)
    expect(fetched).toEqual(all)
    // The busy blocks are really busy: one alone holds more than a thousand logs.
    const perBlock = new Map<number, number>()
    for (const { block } of fetched) perBlock.set(block, (perBlock.get(block) ?? 0) + 1)
    expect(Math.max(...perBlock.values())).toBeGreaterThan(1_000)

    // Sampling halves a range until its end is quiet: the quiet blocks take a few ranges, not
    // ranges of one block grown again and again each time one reached into the busy ones (19 here).
    const quietRanges = rangeSizes.findIndex((n) => n > 1_000)
    expect(quietRanges).toBeGreaterThan(0)
    expect(quietRanges).toBeLessThanOrEqual(12)

    const outcomes = (await registry.getSingleMetric(rpcRequestsMetricName)!.get()).values
    const count = (outcome: string) => outcomes.filter((v) => v.labels.method === 'eth_getLogs' && v.labels.outcome === outcome).reduce((n, v) => n + v.value, 0)
    expect(count('ok')).toBeGreaterThan(0)
    // A range can still end on a quiet block between busy ones (once here); grown blindly into the
    // busy blocks, three ranges were refused.
    expect(count('range_too_large')).toBeLessThanOrEqual(1)
  })
})
