/**
 * The indexer under faults, as the issue states them:
 * - Restart: `haithe indexer` SIGKILLed at any moment, during backfill and during realtime,
 *   resumes from its checkpoint with no duplicate and no gap.
 * - Faults: timeouts, 429 and 5xx from the RPC are retried with backoff, provider range limits
 *   shrink the range; a dead RPC makes readiness fail and is logged once per minute, and the
 *   process does not exit.
 * - One writer: two indexer processes on one PostgreSQL database elect a leader; the standby
 *   takes over when the leader dies.
 * Every scenario ends with the whole index compared with a fresh re-index of the final chain
 * into an empty database (groundTruth).
 *
 * The child processes use a scratch database on DATABASE_URL's server when it is set, else an
 * on-disk PGlite directory (HAITHE_DATA_DIR). FAULTS_SEED changes the kill moments and faults.
 */
import { pino } from 'pino'
import type { Counter } from 'prom-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createIndexer, type Indexer } from '../indexer/index.js'
import { ANVIL_DEPLOYER_KEY } from '../src/chain/index.js'
import { loadConfig, type ChainConfig } from '../src/config/index.js'
import { createMarketChain, createMarketSimulator, createRandom, simulateEvents, type MarketChain, type Random } from '../src/devnet/index.js'
import { createMetricsRegistry } from '../src/obs/index.js'
import { stopAllHaithe, type LogLine } from './support/cli.js'
import { createTestDatabase, type TestDatabase } from './support/database.js'
import { startDevChain, type DevChain } from './support/devchain.js'
import { groundTruth, snapshotIndex } from './support/indexing.js'
import { createChildDatabase, startIndexerProcess, writeConfigFile, type ChildDatabase, type IndexerProcess } from './support/indexer-process.js'
import { startFaultyRpcProxy, type FaultyRpcProxy, type RangeLimitStyle } from './support/rpc-proxy.js'

const SEED = Number(process.env.FAULTS_SEED ?? 20_240_611)
const onPostgres = Boolean(process.env.DATABASE_URL)
const config = loadConfig({ env: {}, chain: 'devnet' })

let dev: DevChain
let market: MarketChain
let chain: ChainConfig
let tuningFile: { file: string; cleanup(): Promise<void> }
/** The database the restart scenarios share: backfilled under kills, then followed in realtime under kills. */
let mainDatabase: ChildDatabase | undefined
const childDatabases: ChildDatabase[] = []
const cleanups: (() => Promise<void>)[] = []

/** Ground truth per head: the chain only grows here (no reorg), so its head names its state. */
const truths = new Map<number, Promise<Record<string, unknown[]>>>()
function truthAt(head: number): Promise<Record<string, unknown[]>> {
  let truth = truths.get(head)
  if (!truth) {
    truth = groundTruth(chain)
    truth.catch(() => {}) // awaited by the test that asked
    truths.set(head, truth)
  }
  return truth
}

const headNow = async () => Number(await dev.publicClient.getBlockNumber({ cacheTime: 0 }))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function freshChildDatabase(): Promise<ChildDatabase> {
  const database = await createChildDatabase()
  childDatabases.push(database)
  return database
}

async function sharedChildDatabase(): Promise<ChildDatabase> {
  mainDatabase ??= await freshChildDatabase()
  return mainDatabase
}

const isProgress = (line: LogLine) => typeof line.msg === 'string' && line.msg.startsWith('backfill: block ')
const isMessage = (msg: string) => (line: LogLine) => line.msg === msg
const isStandby = (line: LogLine) => typeof line.msg === 'string' && line.msg.includes('waiting as standby')

/**
 * Where a run resumed, from its first progress line "backfill: block <done> of <total>" logged
 * with `target`: the backfill started at target - total + 1.
 */
function resumedFrom(logs: LogLine[]): number | undefined {
  const first = logs.find(isProgress)
  const total = first && /of ([\d,]+)/.exec(first.msg!)?.[1]
  return first && total ? (first.target as number) - Number(total.replaceAll(',', '')) + 1 : undefined
}

interface CheckpointRow {
  block: number
  hash: string | null
}

async function checkpointOf(database: ChildDatabase): Promise<CheckpointRow | undefined> {
  return database.readCrashImage(async (db) => {
    const row = await db.selectFrom('chain.checkpoints').select(['block_number', 'block_hash']).where('chain_id', '=', chain.chainId).executeTakeFirst()
    return row && { block: Number(row.block_number), hash: row.block_hash }
  })
}

function indexerProcess(database: ChildDatabase, options: { rpcUrl?: string; logLevel?: string } = {}): Promise<IndexerProcess> {
  return startIndexerProcess({ rpcUrl: options.rpcUrl ?? dev.anvil.rpcUrl, database, configFile: tuningFile.file, logLevel: options.logLevel ?? 'debug' })
}

/** Stops the child (SIGKILL: the last kill of a scenario is a kill too) and compares its whole index with a fresh re-index. */
async function expectIndexEqualsGroundTruth(child: IndexerProcess, database: ChildDatabase, head: number): Promise<Record<string, unknown[]>> {
  await child.waitUntilIndexed(head, 90_000)
  await child.proc.kill()
  const T = Date.now()
  expect(child.proc.stderr()).toBe('')
  const { snapshot, checkpoint } = await database.read(async (db) => ({
    snapshot: await snapshotIndex(db, chain.chainId),
    checkpoint: await db.selectFrom('chain.checkpoints').select(['block_number', 'block_hash']).where('chain_id', '=', chain.chainId).executeTakeFirstOrThrow(),
  }))
  // The checkpoint is the head, with its hash (the realtime tail checks it for reorgs).
  expect({ block: Number(checkpoint.block_number), hash: checkpoint.block_hash }).toEqual({ block: head, hash: (await dev.publicClient.getBlock({ blockNumber: BigInt(head) })).hash })
  console.log('T snapshot', Date.now() - T)
  const truth = await truthAt(head)
  console.log('T truth', Date.now() - T)
  expect(snapshot).toEqual(truth)
  return snapshot
}

/** Seeded market activity in the background, a block per transaction, until stopped. */
function startMarketActivity(seed: number) {
  let running = true
  let blocks = 0
  const done = (async () => {
    const sim = await createMarketSimulator({ chain: market, seed, weights: config.simulator.weights })
    while (running) {
      await sim.step()
      blocks += 1
    }
  })()
  done.catch(() => {})
  const stop = async () => {
    running = false
    await done
  }
  cleanups.push(() => stop().catch(() => {}))
  return { stop, blocks: () => blocks }
}

beforeAll(async () => {
  dev = await startDevChain()
  market = createMarketChain({ rpcUrl: dev.anvil.rpcUrl, chain: dev.chain, deployment: dev.deployment, serverKey: ANVIL_DEPLOYER_KEY })
  chain = { ...config.chain, rpcUrl: dev.anvil.rpcUrl }
  // The child processes index the addresses of config/chains/devnet.json: they must be this chain's.
  expect([dev.deployment.tusdt, dev.deployment.orchestrator, dev.deployment.creatorIdentity].map((a) => a.toLowerCase()))
    .toEqual([chain.contracts.tusdt, chain.contracts.orchestrator, chain.contracts.creatorIdentity])
  // 40,000 events: ~480 sparse blocks of market set-up, then ~90 dense blocks of 450 events.
  const T = Date.now()
  await simulateEvents({ chain: market, seed: SEED, events: 40_000, transactionsPerBatch: 10 })
  console.log('T chain', Date.now() - T)
  // Small ranges and batches: a backfill is many commits for a kill to fall between.
  tuningFile = await writeConfigFile({ indexer: { batchEvents: 500, initialBlocks: 5, maxBlocks: 2, targetLogs: 1_000, concurrency: 2 } })
}, 120_000)

afterEach(async () => {
  await stopAllHaithe()
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

afterAll(async () => {
  await stopAllHaithe()
  for (const cleanup of cleanups.splice(0)) await cleanup()
  await Promise.allSettled(truths.values())
  for (const database of childDatabases) await database.cleanup().catch(() => {})
  await tuningFile?.cleanup()
  await dev?.stop()
})

describe(`haithe indexer killed with SIGKILL (${onPostgres ? 'PostgreSQL' : 'on-disk PGlite'})`, () => {
  it('during backfill: every restart resumes from the checkpoint, and the index equals a fresh re-index', async () => {
    const random = createRandom(SEED)
    const head = await headNow()
    const finalized = head - chain.finalityDepth
    void truthAt(head) // computed while the child runs
    const database = await sharedChildDatabase()

    // When to kill, after which log line: during migrations and the first fetches, right after a
    // commit, and at random moments of the backfill.
    const schedule: { after: (line: LogLine) => boolean; what: string; delayMs: number }[] = [
      { after: isMessage('database opened'), what: 'database opened', delayMs: random.int(0, 300) },
      { after: isProgress, what: 'a progress line', delayMs: 0 },
      { after: isMessage('indexer: leading'), what: 'indexer: leading', delayMs: random.int(300, 3_000) },
      { after: isMessage('indexer: leading'), what: 'indexer: leading', delayMs: random.int(300, 3_000) },
    ]
    const kills: { after: string; delayMs: number; resumedFrom?: number; checkpoint?: number }[] = []
    let previous: CheckpointRow | undefined
    for (const { after, what, delayMs } of schedule) {
      const T = Date.now()
      const child = await indexerProcess(database)
      await child.proc.waitForLog(after, { timeoutMs: 60_000, what })
      console.log('T waited for', what, Date.now() - T)
      await sleep(delayMs)
      await child.proc.kill()
      expect(child.proc.stderr()).toBe('')
      // What the kill left on disk: never behind the previous checkpoint, and where this run started.
      const T2 = Date.now()
      const checkpoint = await checkpointOf(database)
      console.log('T crash image', Date.now() - T2)
      const from = resumedFrom(child.proc.logs())
      if (from !== undefined) expect(from).toBe((previous?.block ?? chain.contracts.startBlock - 1) + 1)
      if (previous) expect(checkpoint?.block).toBeGreaterThanOrEqual(previous.block)
      previous = checkpoint ?? previous
      kills.push({ after: what, delayMs, ...(from !== undefined ? { resumedFrom: from } : {}), ...(checkpoint ? { checkpoint: checkpoint.block } : {}) })
    }
    console.info(`backfill kills on ${database.kind} (head ${head}):`, JSON.stringify(kills))
    // At least two kills fell inside the backfill: something committed, the finalized blocks not all.
    expect(kills.filter((k) => k.checkpoint !== undefined && k.checkpoint > 0 && k.checkpoint < finalized).length).toBeGreaterThanOrEqual(2)

    const T3 = Date.now()
    const child = await indexerProcess(database)
    await child.waitUntilIndexed(head, 90_000)
    console.log('T final caught up', Date.now() - T3, child.proc.logs().map((l) => `${(l.time as number) - T3} ${l.msg}`).join('\n'))
    const snapshot = await expectIndexEqualsGroundTruth(child, database, head)
    const from = resumedFrom(child.proc.logs())
    if (from !== undefined) expect(from).toBe(previous!.block + 1)
    expect(snapshot.payments!.length).toBeGreaterThan(30_000)
  }, 150_000)
})
