/**
 * One indexing step made durable: the batch's changes, the recent block (realtime), the
 * checkpoint and the readers' notification, all in one transaction, so a crash at any point
 * leaves the index at the previous checkpoint with nothing half-written.
 */
import { sql, type Kysely } from 'kysely'
import type { Database } from '../../src/db/index.js'
import type { BatchChanges } from '../aggregates/changes.js'
import { saveCheckpoint, type Checkpoint } from './checkpoint.js'
import { assertLeader } from './leader.js'
import { writeBatch } from './write-batch.js'

/** Channel of the indexer's notifications; the payload is a JSON `IndexNotification`. */
export const INDEX_CHANNEL = 'haithe_chain'

export interface IndexNotification {
  chainId: number
  fromBlock: number
  toBlock: number
  tables: string[]
  /** Set when blocks after `toBlock` were rolled back. */
  reorg?: boolean
}

export interface BlockHeader {
  number: number
  hash: string
  parentHash: string
  timestamp: number
}

export interface CommitOptions {
  chainId: number
  fromBlock: number
  checkpoint: Checkpoint
  changes: BatchChanges
  /** Realtime: journal the changes under this block (so a reorg can undo them) and remember it. */
  unfinalizedBlock?: BlockHeader
  /** The lock session's backend pid: the commit fails if it no longer holds the lock. */
  leaderPid?: number
}

export async function commitBatch(db: Kysely<Database>, options: CommitOptions): Promise<void> {
  const { chainId, changes } = options
  await db.transaction().execute(async (trx) => {
    if (options.leaderPid !== undefined) await assertLeader(trx, chainId, options.leaderPid)
    if (options.unfinalizedBlock) {
      const block = options.unfinalizedBlock
      await sql`select set_config('haithe.journal_block', ${String(block.number)}, true)`.execute(trx)
      await trx
        .insertInto('chain.blocks')
        .values({ chain_id: chainId, number: BigInt(block.number), hash: block.hash, parent_hash: block.parentHash, timestamp: BigInt(block.timestamp) })
        .execute()
    }
    await writeBatch(trx, chainId, changes)
    await saveCheckpoint(trx, chainId, options.checkpoint)
    const notification: IndexNotification = { chainId, fromBlock: options.fromBlock, toBlock: options.checkpoint.block, tables: [...changes.tables] }
    await sql`select pg_notify(${INDEX_CHANNEL}, ${JSON.stringify(notification)})`.execute(trx)
  })
}

/** Forgets undo data and block hashes that can no longer be reorged away. */
export async function pruneFinalized(db: Kysely<Database>, chainId: number, finalizedBlock: number): Promise<void> {
  await db.deleteFrom('chain.undo_log').where('chain_id', '=', chainId).where('block_number', '<=', String(finalizedBlock)).execute()
  await db.deleteFrom('chain.blocks').where('chain_id', '=', chainId).where('number', '<', String(finalizedBlock)).execute()
}
