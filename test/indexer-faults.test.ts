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
import { createMarketChain, createMarketSimulator, createRandom, simulateEvents, type MarketChain } from '../src/devnet/index.js'
import { createMetricsRegistry } from '../src/obs/index.js'
import { stopAllHaithe, type LogLine } from './support/cli.js'
import { createTestDatabase, type TestDatabase } from './support/database.js'
import { startDevChain, type DevChain } from './support/devchain.js'
import { chainIndexes, groundTruth, snapshotIndex } from './support/indexing.js'
import { eventually } from './support/eventually.js'
import { createChildDatabase, startIndexerProcess, writeConfigFile, type ChildDatabase, type IndexerProcess, type Readiness } from './support/indexer-process.js'
import { startFaultyRpcProxy, type RangeLimitStyle } from './support/rpc-proxy.js'

const SEED = Number(process.env.FAULTS_SEED ?? 20_240_611)
const onPostgres = Boolean(process.env.DATABASE_URL)
const config = loadConfig({ env: {}, chain: 'devnet' })

let dev: DevChain
let market: MarketChain
let chain: ChainConfig
let tuningFile: { file: string; cleanup(): Promise<void> }
/** The child database the scenarios share: backfilled under kills, then followed through a dead RPC and realtime kills. */
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
/** The database is open (PGlite) or connected (PostgreSQL): migrations come next. */
const isDatabaseOpen = (line: LogLine) => line.msg === 'database opened' || line.msg === 'database connected'
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

function indexerProcess(database: ChildDatabase, options: { rpcUrl?: string; logLevel?: string } = {}): Promise<IndexerProcess> {
  return startIndexerProcess({ rpcUrl: options.rpcUrl ?? dev.anvil.rpcUrl, database, configFile: tuningFile.file, logLevel: options.logLevel ?? 'debug' })
}

/** The chain schema's indexes as the migrations create them (once per run). */
let migratedIndexNames: Promise<string[]> | undefined
function migratedChainIndexes(): Promise<string[]> {
  migratedIndexNames ??= (async () => {
    const fresh = await createTestDatabase()
    try {
      return (await chainIndexes(fresh.db)).names
    } finally {
      await fresh.cleanup()
    }
  })()
  return migratedIndexNames
}

/** Stops the child (SIGKILL: the last kill of a scenario is a kill too) and compares its whole index with a fresh re-index. */
async function expectIndexEqualsGroundTruth(child: IndexerProcess, database: ChildDatabase, head: number): Promise<Record<string, unknown[]>> {
  await child.waitUntilIndexed(head, 90_000)
  // The indexes and primary keys a first backfill deferred are all built again, whatever the kills interrupted.
  const indexes = await eventually(() => database.read(chainIndexes), (found) => found.deferred === 0, 'deferred indexes', 30_000)
  expect(indexes.names).toEqual(await migratedChainIndexes())
  await child.proc.kill()
  expect(child.proc.stderr()).toBe('')
  const { snapshot, checkpoint } = await database.read(async (db) => ({
    snapshot: await snapshotIndex(db, chain.chainId),
    checkpoint: await db.selectFrom('chain.checkpoints').select(['block_number', 'block_hash']).where('chain_id', '=', chain.chainId).executeTakeFirstOrThrow(),
  }))
  // The checkpoint is the head, with its hash (the realtime tail checks it for reorgs).
  expect({ block: Number(checkpoint.block_number), hash: checkpoint.block_hash }).toEqual({ block: head, hash: (await dev.publicClient.getBlock({ blockNumber: BigInt(head) })).hash })
  expect(snapshot).toEqual(await truthAt(head))
  return snapshot
}

/**
 * Seeded market activity in the background: a block per transaction, one action every
 * `paceMs` (a pace the indexer can follow on this machine), until stopped or `maxActions`.
 */
function startMarketActivity(seed: number, options: { paceMs: number; maxActions?: number }) {
  let running = true
  let actions = 0
  const done = (async () => {
    const sim = await createMarketSimulator({ chain: market, seed, weights: config.simulator.weights })
    while (running && actions < (options.maxActions ?? Infinity)) {
      // viem's waitForTransactionReceipt (MarketChain.confirm) can miss a receipt mined in the
      // newest block and then waits for a next block, which only this loop would make: a stall
      // of 60 s under load. An empty block after a second without progress unblocks it.
      const nudge = setInterval(() => void dev.testClient.mine({ blocks: 1 }).catch(() => {}), 1_000)
      try {
        await sim.step()
      } finally {
        clearInterval(nudge)
      }
      actions += 1
      await sleep(options.paceMs)
    }
  })()
  done.catch(() => {})
  const stop = async () => {
    running = false
    await done
  }
  cleanups.push(() => stop().catch(() => {}))
  return { stop, actions: () => actions }
}

beforeAll(async () => {
  dev = await startDevChain()
  market = createMarketChain({ rpcUrl: dev.anvil.rpcUrl, chain: dev.chain, deployment: dev.deployment, serverKey: ANVIL_DEPLOYER_KEY })
  chain = { ...config.chain, rpcUrl: dev.anvil.rpcUrl }
  // The child processes index the addresses of config/chains/devnet.json: they must be this chain's.
  expect([dev.deployment.tusdt, dev.deployment.orchestrator, dev.deployment.creatorIdentity].map((a) => a.toLowerCase()))
    .toEqual([chain.contracts.tusdt, chain.contracts.orchestrator, chain.contracts.creatorIdentity])
  // 40,000 events: ~480 sparse blocks of market set-up, then ~90 dense blocks of 450 events.
  await simulateEvents({ chain: market, seed: SEED, events: 40_000, transactionsPerBatch: 10 })
  // Small ranges and batches: a backfill is many commits for a kill to fall between.
  tuningFile = await writeConfigFile({ indexer: { batchEvents: 500, initialBlocks: 5, maxBlocks: 8, targetLogs: 1_000, concurrency: 2 } })
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

/** An indexer in this process with its own metrics registry, for the RPC-fault scenarios. */
function startInProcessIndexer(database: TestDatabase, rpcUrl: string, tuning: Parameters<typeof createIndexer>[0]['tuning']) {
  const controller = new AbortController()
  const registry = createMetricsRegistry()
  const warnings: LogLine[] = []
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as LogLine) })
  const indexer: Indexer = createIndexer({
    db: database.db, kind: database.kind, chain: { ...chain, rpcUrl, pollingIntervalMs: 100 },
    logger, metrics: registry, signal: controller.signal, tuning,
  })
  const done = indexer.run()
  done.catch(() => {})
  const stop = async () => {
    controller.abort()
    await done.catch(() => {})
  }
  cleanups.push(stop)
  return {
    indexer,
    stop,
    /** What it logged at warn level and above. */
    warnings,
    async caughtUp(block: number, timeoutMs: number) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const status = indexer.status()
        if (status.role === 'failed') await done
        if (status.role === 'realtime' && status.indexed !== null && status.indexed >= block) return status
        if (Date.now() > deadline) throw new Error(`the indexer did not reach block ${block} in ${timeoutMs} ms: ${JSON.stringify(status)}`)
        await sleep(50)
      }
    },
    /** indexer_rpc_requests_total summed by outcome. */
    async rpcOutcomes(): Promise<Record<string, number>> {
      const metric = registry.getSingleMetric('indexer_rpc_requests_total') as Counter | undefined
      const outcomes: Record<string, number> = {}
      for (const { labels, value } of (await metric?.get())?.values ?? []) outcomes[String(labels.outcome)] = (outcomes[String(labels.outcome)] ?? 0) + value
      return outcomes
    },
  }
}

// In this order: the chain only grows from the dead-RPC scenario on, so the first three share one ground truth.
describe(`haithe indexer under faults (${onPostgres ? 'PostgreSQL' : 'on-disk PGlite'})`, () => {
  it('SIGKILL during backfill: every restart resumes from its checkpoint, and the index equals a fresh re-index', async () => {
    const random = createRandom(SEED)
    const head = await headNow()
    const finalized = head - chain.finalityDepth
    void truthAt(head) // computed while the children run
    const database = await sharedChildDatabase()
    // Every answer 25 ms late: the backfill of this small chain then lasts seconds, not a fraction
    // of one, so a kill right after a progress line still lands inside it on a loaded machine
    // (without it, a run could finish the backfill before the kill, and the next had none to report).
    const proxy = await startFaultyRpcProxy({ target: dev.anvil.rpcUrl, seed: SEED })
    cleanups.push(() => proxy.stop())
    proxy.setFaults({ slowRate: 1, slowMs: 25 })

    // When to kill, after which log line: during migrations and the first fetches of a fresh
    // database; right after a run's first commit (its first progress line), the next batch in
    // flight, twice; and at a random moment of indexing.
    const schedule: { after: (line: LogLine) => boolean; what: string; delayMs: number }[] = [
      { after: isDatabaseOpen, what: 'database open', delayMs: random.int(0, 300) },
      { after: isProgress, what: 'a progress line', delayMs: 0 },
      { after: isProgress, what: 'a progress line', delayMs: 0 },
      { after: isMessage('indexer: leading'), what: 'indexer: leading', delayMs: random.int(300, 3_000) },
    ]
    const runs: { killedAfter: string; delayMs: number; resumedFrom?: number; lastProgress?: number }[] = []
    for (const { after, what, delayMs } of schedule) {
      const child = await indexerProcess(database, { rpcUrl: proxy.url })
      await child.proc.waitForLog(after, { timeoutMs: 60_000, what })
      await sleep(delayMs)
      await child.proc.kill()
      expect(child.proc.stderr()).toBe('')
      const from = resumedFrom(child.proc.logs())
      const lastProgress = child.proc.logs().filter(isProgress).at(-1)?.block as number | undefined
      runs.push({ killedAfter: what, delayMs, ...(from !== undefined ? { resumedFrom: from } : {}), ...(lastProgress !== undefined ? { lastProgress } : {}) })
    }
    const child = await indexerProcess(database)
    await expectIndexEqualsGroundTruth(child, database, head)
    runs.push({ killedAfter: 'caught up', delayMs: 0, ...(resumedFrom(child.proc.logs()) !== undefined ? { resumedFrom: resumedFrom(child.proc.logs())! } : {}) })
    console.info(`backfill runs on ${database.kind} (head ${head}, finalized ${finalized}):`, JSON.stringify(runs))

    // Each run started where the previous one's last commit left off: after every batch it
    // reported (a progress line follows its commit), and never from scratch again.
    for (let i = 1; i < runs.length; i++) {
      const { resumedFrom: from } = runs[i]!
      if (from === undefined) continue
      expect(from).toBeGreaterThan(runs[i - 1]!.lastProgress ?? 0)
      if (runs[i - 1]!.resumedFrom !== undefined) expect(from).toBeGreaterThanOrEqual(runs[i - 1]!.resumedFrom!)
    }
    // The kills after a commit fell inside the backfill: the next run still had finalized blocks to do.
    runs.forEach((run, i) => {
      if (run.killedAfter !== 'a progress line') return
      expect(run.lastProgress).toBeLessThan(finalized)
      expect(runs[i + 1]!.resumedFrom).toBeGreaterThan(run.lastProgress!)
    })
  }, 150_000)

  it('RPC faults: retries timeouts, 429 and 5xx, shrinks ranges the provider refuses, and the index equals a fresh re-index', async () => {
    const head = await headNow()
    void truthAt(head)
    const proxy = await startFaultyRpcProxy({ target: dev.anvil.rpcUrl, seed: SEED })
    cleanups.push(() => proxy.stop())
    const database = await createTestDatabase()
    cleanups.push(() => database.cleanup())

    // Every fault at once, the range limit in each provider's words in turn: the style changes
    // after each refusal, so all three are met.
    const styles: RangeLimitStyle[] = ['alchemy', 'infura', 'quicknode']
    const faultsIn = (style: RangeLimitStyle) => ({
      timeoutRate: 0.03, hangMs: 2_000, rate429: 0.05, rate5xx: 0.06, slowRate: 0.1, slowMs: 150,
      rangeLimit: { maxBlocks: 20, maxLogs: 500, style },
    })
    const refusals: Record<RangeLimitStyle, number> = { alchemy: 0, infura: 0, quicknode: 0 }
    let style = 0
    let seen = 0
    proxy.setFaults(faultsIn(styles[0]!))
    const rotation = setInterval(() => {
      const now = proxy.stats.injected.rangeLimit ?? 0
      if (now === seen) return
      refusals[styles[style % 3]!] += now - seen
      seen = now
      style += 1
      proxy.setFaults(faultsIn(styles[style % 3]!))
    }, 20)
    cleanups.push(async () => clearInterval(rotation))

    const running = startInProcessIndexer(database, proxy.url, { concurrency: 2, initialBlocks: 50, batchEvents: 2_000, rpcTimeoutMs: 1_000 })
    await running.caughtUp(head, 90_000)
    clearInterval(rotation)
    // Faults off; requests in flight finish (a hung one within rpcTimeoutMs), then count.
    proxy.setFaults({})
    await sleep(1_500)
    const outcomes = await running.rpcOutcomes()
    const injected = { ...proxy.stats.injected }
    expect(running.indexer.status()).toMatchObject({ role: 'realtime', rpcHealthy: true, indexed: head })
    const snapshot = await snapshotIndex(database.db, chain.chainId)
    await running.stop()
    console.info('RPC faults injected:', JSON.stringify(injected), 'range refusals by style:', JSON.stringify(refusals), 'client outcomes:', JSON.stringify(outcomes))

    expect(injected.timeout).toBeGreaterThan(0)
    expect(injected['429']).toBeGreaterThan(0)
    expect(injected['5xx']).toBeGreaterThan(0)
    expect(injected.slow).toBeGreaterThan(0)
    for (const name of styles) expect(refusals[name], `${name} range-limit refusals`).toBeGreaterThan(0)
    // Each injected failure cost at least one retry (a batch counts each of its calls), each
    // refusal one range_too_large; nothing ended as an error.
    expect(outcomes.retry).toBeGreaterThanOrEqual(injected.timeout! + injected['429']! + injected['5xx']!)
    expect(outcomes.range_too_large).toBeGreaterThanOrEqual(injected.rangeLimit!)
    expect(outcomes.error ?? 0).toBe(0)
    // The faults were absorbed by the RPC client: no indexing step failed.
    expect(running.warnings.filter((l) => !l.msg?.startsWith('RPC unreachable')).map((l) => l.msg)).toEqual([])
    expect(snapshot).toEqual(await truthAt(head))
  }, 120_000)

  // PGlite is embedded: its one process always leads (indexer/database/leader.ts), there is nothing to elect.
  const oneWriter = 'one writer: two indexers on one database: one leads, the other waits; the standby takes over when the leader is killed'
  it.runIf(onPostgres)(onPostgres ? oneWriter : `${oneWriter} (PostgreSQL only: skipped on PGlite, which one process owns)`, async () => {
    const head = await headNow()
    void truthAt(head)
    const database = await freshChildDatabase()
    const first = await indexerProcess(database)
    const second = await indexerProcess(database)
    const role = (child: IndexerProcess) =>
      child.proc.waitForLog((l) => isMessage('indexer: leading')(l) || isStandby(l), { timeoutMs: 60_000, what: 'leading or standby' }).then((l) => (isStandby(l) ? 'standby' : 'leader'))
    const roles = await Promise.all([role(first), role(second)])
    expect([...roles].sort()).toEqual(['leader', 'standby'])
    const [leader, standby] = roles[0] === 'leader' ? [first, second] : [second, first]

    // The standby is alive but not ready, and writes nothing while the leader backfills.
    await leader.proc.waitForLog(isProgress, { timeoutMs: 60_000, what: 'a progress line' })
    expect((await standby.get('/health')).status).toBe(200)
    expect(await standby.readiness()).toMatchObject({ status: 503, detail: expect.stringMatching(/^standby/) })
    expect(standby.proc.logs().some(isMessage('indexer: leading'))).toBe(false)

    await leader.proc.kill()
    const killedAt = Date.now()
    const lastCommit = leader.proc.logs().filter(isProgress).at(-1)!.block as number
    await standby.proc.waitForLog(isMessage('indexer: leading'), { timeoutMs: 15_000, what: 'indexer: leading after the leader died' })
    const takeoverMs = Date.now() - killedAt
    await expectIndexEqualsGroundTruth(standby, database, head)
    const from = resumedFrom(standby.proc.logs())
    console.info(`leader killed after block ${lastCommit}; the standby led ${takeoverMs} ms later and resumed from block ${from}`)
    // It went on from the dead leader's checkpoint, not from scratch.
    expect(from).toBeGreaterThan(lastCommit)
    expect(takeoverMs).toBeLessThan(10_000)
  }, 120_000)

  it('dead RPC: the process stays up, /health 200, /health/ready 503 naming the RPC, one warning a minute; ready again once caught up', async () => {
    const proxy = await startFaultyRpcProxy({ target: dev.anvil.rpcUrl, seed: SEED })
    cleanups.push(() => proxy.stop())
    const database = await sharedChildDatabase()
    const child = await indexerProcess(database, { rpcUrl: proxy.url, logLevel: 'info' })
    await child.waitUntilIndexed(await headNow(), 90_000)

    proxy.setFaults({ down: true })
    const downAt = Date.now()
    // Blocks the indexer will have to catch up on.
    const activity = startMarketActivity(SEED + 2, { paceMs: 100, maxActions: 10 })
    let notReady: Readiness | undefined
    const liveness: number[] = []
    while (Date.now() - downAt < 10_000) {
      liveness.push((await child.get('/health')).status)
      const readiness = await child.readiness()
      if (readiness.status === 503) notReady ??= readiness
      await sleep(250)
    }
    await activity.stop()
    const warnings = child.proc.logs().filter((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.startsWith('RPC unreachable'))
    expect(child.proc.hasExited()).toBe(false)
    // It waits for the RPC: no indexing step failed, nothing fatal.
    expect(child.proc.logs().filter((l) => (l.level ?? 0) >= 40 && !warnings.includes(l)).map((l) => l.msg)).toEqual([])
    expect(new Set(liveness)).toEqual(new Set([200]))
    expect(notReady?.detail).toMatch(/RPC unreachable/)
    expect(await child.readiness()).toMatchObject({ status: 503 })
    expect(warnings.length, JSON.stringify(warnings)).toBe(1)
    expect(proxy.stats.injected.down).toBeGreaterThan(3)

    proxy.setFaults({})
    const upAt = Date.now()
    const head = await headNow()
    await child.waitUntilIndexed(head, 60_000)
    console.info(`dead RPC: ${proxy.stats.injected.down} requests refused in 10 s; ready ${Date.now() - upAt} ms after the RPC came back, ${activity.actions()} market actions behind`)
    await child.proc.waitForLog(isMessage('RPC reachable again'), { timeoutMs: 5_000, what: 'RPC reachable again' })
    expect(activity.actions()).toBeGreaterThan(0)
  }, 90_000)

  it('SIGKILL during realtime, while the market makes blocks: restarts resume with no gap and no duplicate', async () => {
    const random = createRandom(SEED + 1)
    const database = await sharedChildDatabase()
    const activity = startMarketActivity(SEED + 1, { paceMs: 100 })
    const kills: { delayMs: number; indexed?: number }[] = []
    for (let i = 0; i < 3; i++) {
      const child = await indexerProcess(database)
      // Following the head: ready (caught up within a block) while blocks keep coming.
      const ready = await child.waitUntilIndexed(chain.contracts.startBlock, 60_000)
      const delayMs = random.int(300, 3_000)
      await sleep(delayMs)
      await child.proc.kill()
      expect(child.proc.stderr()).toBe('')
      kills.push({ delayMs, ...(ready.indexed !== undefined ? { indexed: ready.indexed } : {}) })
    }
    await activity.stop()
    const head = await headNow()
    void truthAt(head) // computed while the last child catches up
    console.info(`realtime kills on ${database.kind} (${activity.actions()} market actions, head ${head}):`, JSON.stringify(kills))
    expect(activity.actions()).toBeGreaterThan(10)
    const child = await indexerProcess(database)
    await expectIndexEqualsGroundTruth(child, database, head)
  }, 120_000)
})
