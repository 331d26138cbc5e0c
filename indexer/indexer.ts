/**
 * The chain indexer: backfills final blocks in large batches, then follows the head block by
 * block, journaling each unfinalized block's changes so a reorg can be rolled back to the
 * common ancestor. Every step commits its changes with the checkpoint, so it can be killed at
 * any instant and resume with no gap and no duplicate.
 */
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { ChainConfig } from '../src/config/index.js'
import type { Database } from '../src/db/index.js'
import { BatchChanges } from './aggregates/changes.js'
import { readCheckpoint, type Checkpoint } from './database/checkpoint.js'
import { commitBatch, pruneFinalized, type BlockHeader } from './database/commit.js'
import { acquireLeadership, assertLeader, LeadershipLostError, type Leadership } from './database/leader.js'
import { buildDeferredIndexes, deferIndexesIfEmpty } from './database/deferred-indexes.js'
import { createStatusRecorder } from './database/status.js'
import { IndexInvariantError } from './database/write-batch.js'
import { applyLogs, type KnownContracts, type PlacedLog } from './handlers/index.js'
import { createIndexerMetrics } from './metrics.js'
import { describeProgress } from './progress.js'
import { findCommonAncestor, ReorgTooDeepError, rollbackTo, storedBlocks } from './reorg/rollback.js'
import { fetchLogs, placeLogs, type LogSources } from './sync/fetch-logs.js'
import { fetchHistorical } from './sync/historical.js'
import { createRangeSizer } from './sync/ranges.js'
import { createRpcClient, RpcRequestError } from './sync/rpc.js'
import { sleepUnlessAborted } from '../src/obs/index.js'

export interface IndexerTuning {
  /** eth_getLogs requests in flight during backfill. */
  concurrency: number
  initialBlocks: number
  maxBlocks: number
  /** Logs per request the range sizer aims for. */
  targetLogs: number
  /** Events per backfill transaction. */
  batchEvents: number
  rpcTimeoutMs: number
}

export const defaultTuning: IndexerTuning = {
  concurrency: 4,
  initialBlocks: 10,
  maxBlocks: 200_000,
  targetLogs: 5_000,
  batchEvents: 10_000,
  rpcTimeoutMs: 15_000,
}

export interface IndexerOptions {
  db: Kysely<Database>
  kind: 'postgres' | 'pglite'
  chain: ChainConfig
  logger: Logger
  metrics: Registry
  signal: AbortSignal
  tuning?: Partial<IndexerTuning>
}

export type IndexerRole = 'starting' | 'standby' | 'backfill' | 'realtime' | 'stopped' | 'failed'

export interface IndexerStatus {
  role: IndexerRole
  chainId: number
  head: number | null
  indexed: number | null
  finalized: number | null
  eventsPerSecond: number
  rpcHealthy: boolean
  /** Caught up with the head (within one block) and the RPC answers. */
  ready: boolean
  error?: string
}

/** Unfinalized blocks fetched ahead of the one being committed. */
const REALTIME_LOOKAHEAD = 4

/** Errors after which the index must not be touched again without a person looking. */
const isFatal = (err: unknown) =>
  err instanceof LeadershipLostError || err instanceof ReorgTooDeepError || err instanceof IndexInvariantError || (err instanceof RpcRequestError && !err.retryable)

export function createIndexer(options: IndexerOptions) {
  const { db, chain, logger, signal } = options
  const tuning = { ...defaultTuning, ...options.tuning }
  const chainId = chain.chainId
  const metrics = createIndexerMetrics(options.metrics)
  // A range that turns out much denser than the last one is refused past ~2 KB per targeted log
  // and split, rather than parsed whole: that bounds the memory one response can take.
  const rpc = createRpcClient({
    url: chain.rpcUrl, timeoutMs: tuning.rpcTimeoutMs, metrics: options.metrics, logger, signal,
    maxResponseBytes: Math.max(4 * 2 ** 20, tuning.targetLogs * 2048),
  })
  const sizer = createRangeSizer({ initialBlocks: tuning.initialBlocks, maxBlocks: tuning.maxBlocks, targetLogs: tuning.targetLogs })
  const { orchestrator, creatorIdentity, tusdt, startBlock } = chain.contracts
  const sources: LogSources = { fixed: [orchestrator, creatorIdentity, tusdt] }

  const status: IndexerStatus = { role: 'starting', chainId, head: null, indexed: null, finalized: null, eventsPerSecond: 0, rpcHealthy: true, ready: false }
  const rate: { at: number; events: number }[] = []
  let eventsTotal = 0
  let checkpoint: Checkpoint = { block: startBlock - 1, hash: null }
  let leadership: Leadership | undefined
  const leaderPid = () => leadership?.holderPid()
  let known: KnownContracts = { orchestrator, creatorIdentity, tusdt, organizations: new Set(), products: new Set() }
  // chain.indexer_status, for a read API in another process: written while this process leads.
  const recorder = createStatusRecorder({ db, logger, current: () => currentStatus(), leaderPid })

  /** A role change is recorded at once; other changes at most once a second. */
  function setRole(role: IndexerRole): void {
    status.role = role
    recorder.changed()
  }

  const hex = (n: number) => `0x${n.toString(16)}`

  async function header(number: number): Promise<BlockHeader | null> {
    const block = await rpc.request<{ number: string; hash: string; parentHash: string; timestamp: string } | null>('eth_getBlockByNumber', [hex(number), false])
    return block && { number, hash: block.hash, parentHash: block.parentHash, timestamp: Number.parseInt(block.timestamp, 16) }
  }

  async function loadState(): Promise<void> {
    checkpoint = (await readCheckpoint(db, chainId)) ?? { block: startBlock - 1, hash: null }
    const [organizations, products] = await Promise.all([
      db.selectFrom('chain.organizations').select('address').where('chain_id', '=', chainId).execute(),
      db.selectFrom('chain.products').select('address').where('chain_id', '=', chainId).execute(),
    ])
    known = { orchestrator, creatorIdentity, tusdt, organizations: new Set(organizations.map((r) => r.address)), products: new Set(products.map((r) => r.address)) }
    status.indexed = checkpoint.block
    metrics.indexed.set(checkpoint.block)
  }

  function recordProgress(events: number, head: number): void {
    eventsTotal += events
    metrics.events.inc(events)
    metrics.indexed.set(checkpoint.block)
    metrics.lag.set(Math.max(0, head - checkpoint.block))
    status.indexed = checkpoint.block
    const now = Date.now()
    rate.push({ at: now, events: eventsTotal })
    while (rate.length > 2 && now - rate[0]!.at > 10_000) rate.shift()
    const first = rate[0]!
    status.eventsPerSecond = now > first.at ? Math.round(((eventsTotal - first.events) * 1000) / (now - first.at)) : 0
    recorder.changed()
  }

  /** Final blocks from checkpoint+1 to `target`, in large batches without undo data. */
  async function backfill(target: number, head: number): Promise<void> {
    setRole('backfill')
    const deferred = await deferIndexesIfEmpty(db)
    if (deferred > 0) {
      indexesBuilt = false
      logger.info({ indexes: deferred }, 'backfill into an empty database: the indexes and primary keys of payments and transfers are built at its end')
    }
    const from = checkpoint.block + 1
    const started = Date.now()
    let events = 0
    let lastReport = 0
    let pending: Promise<void> | undefined
    let changes = new BatchChanges()
    let batchFrom = from

    const flush = async (to: number) => {
      const batch = changes
      const batchStart = batchFrom
      changes = new BatchChanges()
      batchFrom = to + 1
      await pending // one commit in flight: the next batch is decoded while this one is written
      pending = commitBatch(db, { chainId, fromBlock: batchStart, checkpoint: { block: to, hash: null }, changes: batch, leaderPid: leaderPid() }).then(() => {
        checkpoint = { block: to, hash: null }
        events += batch.events
        recordProgress(batch.events, head)
        if (Date.now() - lastReport > 2_000 || to === target) {
          lastReport = Date.now()
          const progress = describeProgress({ fromBlock: from, toBlock: target, doneBlock: to, events, elapsedMs: Date.now() - started })
          // A few blocks of catch-up between realtime polls is routine: only a real backfill reports.
          const level = target - from >= 1_000 ? 'info' : 'debug'
          logger[level]({ block: to, target, eventsPerSecond: progress.eventsPerSecond }, progress.message)
        }
      })
      pending.catch(() => {}) // awaited before the next commit or at the end
    }

    // Where the time goes, for the operator: waiting on the node, decoding, waiting on the database.
    const spent = { fetch: 0, apply: 0, write: 0 }
    let mark = performance.now()
    const lap = (phase: keyof typeof spent) => {
      const now = performance.now()
      spent[phase] += now - mark
      mark = now
    }
    // Two requests' worth of logs may wait for the consumer: as fast as four (bench:indexer), with less held in memory.
    for await (const range of fetchHistorical({ rpc, sources, sizer, from, to: target, concurrency: tuning.concurrency, targetLogs: tuning.targetLogs, maxBufferedLogs: 2 * tuning.targetLogs })) {
      lap('fetch')
      if (signal.aborted) break
      applyLogs(range.logs, changes, known)
      lap('apply')
      if (changes.events >= tuning.batchEvents || range.to === target) {
        await flush(range.to)
        lap('write')
      }
    }
    await pending
    lap('write')
    if (!signal.aborted) await buildIndexes()
    const memory = process.memoryUsage()
    logger.debug(
      {
        fetchWaitMs: Math.round(spent.fetch), applyMs: Math.round(spent.apply), writeWaitMs: Math.round(spent.write), events,
        rssMb: Math.round(memory.rss / 2 ** 20), heapMb: Math.round(memory.heapUsed / 2 ** 20), externalMb: Math.round(memory.external / 2 ** 20),
      },
      'backfill: time spent',
    )
  }

  /** Whether no index is left to build (see deferred-indexes.ts); checked once per process, then after each deferral. */
  let indexesBuilt = false
  async function buildIndexes(): Promise<void> {
    if (indexesBuilt) return
    // PGlite is one connection: its builds run one at a time.
    await buildDeferredIndexes(db, logger, options.kind === 'postgres' ? 2 : 1)
    indexesBuilt = true
  }

  /** Rolls back to the newest stored block the node still has. */
  async function handleReorg(reason: string): Promise<void> {
    const stored = await storedBlocks(db, chainId)
    const ancestor = await findCommonAncestor(
      stored,
      async (n) => (await header(n))?.hash ?? '',
      chain.finalityDepth,
    )
    const undone = await rollbackTo(db, chainId, ancestor, checkpoint.block, leaderPid())
    metrics.reorgs.inc()
    logger.warn({ reason, from: checkpoint.block, ancestor: ancestor.number, depth: checkpoint.block - ancestor.number, undone }, `reorg: rolled back to block ${ancestor.number}`)
    await loadState()
    checkpoint = { block: ancestor.number, hash: ancestor.hash }
  }

  /** The checkpoint block as the base of the unfinalized window (its hash known and stored). */
  async function ensureBase(): Promise<void> {
    if (checkpoint.hash !== null) return
    const base = await header(checkpoint.block)
    if (!base) throw new Error(`the node does not have block ${checkpoint.block} yet`)
    await db.transaction().execute(async (trx) => {
      const pid = leaderPid()
      if (pid !== undefined) await assertLeader(trx, chainId, pid)
      await trx.insertInto('chain.blocks').values({ chain_id: chainId, number: BigInt(base.number), hash: base.hash, parent_hash: base.parentHash, timestamp: BigInt(base.timestamp) })
        .onConflict((oc) => oc.columns(['chain_id', 'number']).doNothing()).execute()
      await trx.updateTable('chain.checkpoints').set({ block_hash: base.hash }).where('chain_id', '=', chainId).execute()
    })
    checkpoint = { block: checkpoint.block, hash: base.hash }
  }

  /** A block's header and its logs placed, or null if the node does not have it (yet). */
  async function fetchBlock(n: number): Promise<{ block: BlockHeader; logs: PlacedLog[] } | null> {
    const block = await header(n)
    if (!block) return null // a load-balanced node may not have it yet
    return { block, logs: await placeLogs(rpc, await fetchLogs(rpc, sources, { blockHash: block.hash }), new Map([[n, block.timestamp]])) }
  }

  /**
   * Unfinalized blocks one at a time, each journaled under its number. The next few are fetched
   * while one is committed (catching up after a backfill or a pause); each is checked against the
   * block before it when its turn comes, so one fetched from a branch that was since reorged away
   * is caught like any other.
   */
  async function followHead(head: number): Promise<void> {
    await ensureBase()
    const ahead: Promise<Awaited<ReturnType<typeof fetchBlock>>>[] = []
    let next = checkpoint.block + 1
    for (let n = checkpoint.block + 1; n <= head && !signal.aborted; n++) {
      while (ahead.length < REALTIME_LOOKAHEAD && next <= head) {
        const fetched = fetchBlock(next++)
        fetched.catch(() => {}) // awaited in its turn, or dropped with the rest when this returns early
        ahead.push(fetched)
      }
      const fetched = await ahead.shift()!
      if (!fetched) return
      const { block, logs } = fetched
      if (block.parentHash !== checkpoint.hash) return handleReorg(`block ${n}'s parent is not the indexed block ${checkpoint.block}`)
      const changes = new BatchChanges()
      applyLogs(logs, changes, known)
      await commitBatch(db, { chainId, fromBlock: n, checkpoint: { block: n, hash: block.hash }, changes, unfinalizedBlock: block, leaderPid: leaderPid() })
      checkpoint = { block: n, hash: block.hash }
      recordProgress(changes.events, head)
    }
  }

  async function step(): Promise<'idle' | 'busy'> {
    const head = Number.parseInt(await rpc.request<string>('eth_blockNumber', []), 16)
    const finalized = Math.max(startBlock - 1, head - chain.finalityDepth)
    status.head = head
    status.finalized = finalized
    recorder.changed()
    metrics.head.set(head)
    metrics.lag.set(Math.max(0, head - checkpoint.block))

    // The checkpoint must still be on the chain before anything is built on it — also after a
    // pause long enough for the head to move past the finality window.
    if (checkpoint.hash !== null) {
      const current = await header(checkpoint.block)
      if (current && current.hash !== checkpoint.hash) {
        await handleReorg(`indexed block ${checkpoint.block} is no longer on the chain`)
        return 'busy'
      }
    }
    if (checkpoint.block < finalized) {
      await backfill(finalized, head)
      return 'busy'
    }
    // Indexes a backfill deferred and a crash left unbuilt.
    await buildIndexes()
    if (checkpoint.block < head) {
      setRole('realtime')
      await followHead(head)
      await pruneFinalized(db, chainId, finalized)
      return 'busy'
    }
    setRole('realtime')
    return 'idle'
  }

  async function run(): Promise<void> {
    leadership = acquireLeadership(db, {
      kind: options.kind,
      chainId,
      signal,
      onWaiting: () => {
        status.role = 'standby'
        logger.info({ chainId }, 'indexer: another process leads for this chain; waiting as standby')
      },
    })
    try {
      await leadership.acquired
      status.role = 'starting'
      recorder.lead()
      logger.info({ chainId, rpc: chain.rpcUrl.replace(/\/\/[^@/]*@/, '//***@') }, 'indexer: leading')
      await loadState()
      let failures = 0
      while (!signal.aborted) {
        try {
          const state = await step()
          failures = 0
          status.error = undefined
          if (state === 'idle') await sleepUnlessAborted(chain.pollingIntervalMs, signal)
        } catch (err) {
          if (signal.aborted) break
          if (isFatal(err)) {
            status.error = (err as Error).message
            setRole('failed')
            logger.error({ err }, `indexer stopped: ${(err as Error).message}`)
            throw err
          }
          failures += 1
          status.error = (err as Error).message
          recorder.changed()
          logger.warn({ err, failures }, 'indexer step failed; resuming from the checkpoint')
          await sleepUnlessAborted(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), signal)
          await loadState().catch(() => {})
        }
      }
    } finally {
      if (status.role !== 'failed') status.role = 'stopped'
      // Recorded before the lock is released, so a standby taking over cannot be overwritten.
      await recorder.close()
      await leadership?.release().catch(() => {})
    }
  }

  function currentStatus(): IndexerStatus {
    const health = rpc.health()
    status.rpcHealthy = health.healthy
    status.ready =
      status.role === 'realtime' && health.healthy && status.head !== null && status.indexed !== null && status.head - status.indexed <= 1
    return { ...status }
  }

  return { run, status: currentStatus }
}

export type Indexer = ReturnType<typeof createIndexer>
