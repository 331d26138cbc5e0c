import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config/index.js'
import { createMarketChain, createMarketSimulator } from '../src/devnet/index.js'
import { ANVIL_DEPLOYER_KEY } from '../src/chain/index.js'
import { startDevChain, type DevChain } from './support/devchain.js'
import { createTestDatabase, type TestDatabase } from './support/database.js'
import { groundTruth, runIndexer, snapshotIndex } from './support/indexing.js'

describe('indexer basic', () => {
  let dev: DevChain
  let database: TestDatabase
  beforeAll(async () => {
    dev = await startDevChain()
    database = await createTestDatabase()
  })
  afterAll(async () => {
    await database?.cleanup()
    await dev?.stop()
  })
  it('follows a live market and equals a fresh re-index', async () => {
    const config = loadConfig({ env: {} })
    const chain = { ...config.chain, rpcUrl: dev.anvil.rpcUrl, finalityDepth: 5, pollingIntervalMs: 100 }
    const market = createMarketChain({ rpcUrl: dev.anvil.rpcUrl, chain: dev.chain, deployment: dev.deployment, serverKey: ANVIL_DEPLOYER_KEY })
    const sim = await createMarketSimulator({ chain: market, seed: 11, weights: config.simulator.weights })
    for (let i = 0; i < 30; i++) await sim.step()
    const running = runIndexer(database.db, database.kind, chain)
    await running.caughtUp()
    for (let i = 0; i < 30; i++) await sim.step()
    await running.caughtUp()
    const mine = await snapshotIndex(database.db, chain.chainId)
    await running.stop()
    expect(mine.payments!.length).toBeGreaterThan(10)
    expect(mine).toEqual(await groundTruth(chain))
  })
})
