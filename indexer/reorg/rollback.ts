/**
 * Reorg handling: find where the stored chain and the node's chain part, and roll every
 * derived row back to that common ancestor with the undo journal.
 */
import { sql, type Kysely } from 'kysely'
import type { Database } from '../../src/db/index.js'
import { saveCheckpoint } from '../database/checkpoint.js'
import { INDEX_CHANNEL, type IndexNotification } from '../database/commit.js'
import { assertLeader } from '../database/leader.js'

export class ReorgTooDeepError extends Error {
  override name = 'ReorgTooDeepError'
  constructor(readonly atBlock: number, readonly finalityDepth: number) {
    super(
      `reorg deeper than the finality depth (${finalityDepth} blocks): the chain no longer contains indexed block ${atBlock}. ` +
        `The index cannot be repaired from its undo journal; stop here rather than serve wrong data. ` +
        `Raise finalityDepth in the chain config if this chain reorgs that deep, then re-index (drop the chain schema's rows for this chain).`,
    )
  }
}

/** Stored hashes of recent blocks, newest first. */
export async function storedBlocks(db: Kysely<Database>, chainId: number): Promise<{ number: number; hash: string }[]> {
  const rows = await db.selectFrom('chain.blocks').select(['number', 'hash']).where('chain_id', '=', chainId).orderBy('number', 'desc').execute()
  return rows.map((r) => ({ number: Number(r.number), hash: r.hash }))
}

/**
 * The newest stored block that the node still has. `canonicalHash(n)` asks the node.
 * Throws ReorgTooDeepError when no stored block within the window matches.
 */
export async function findCommonAncestor(
  stored: readonly { number: number; hash: string }[],
  canonicalHash: (block: number) => Promise<string>,
  finalityDepth: number,
): Promise<{ number: number; hash: string }> {
  for (const block of stored) {
    if ((await canonicalHash(block.number)) === block.hash) return block
  }
  throw new ReorgTooDeepError(stored.at(-1)?.number ?? 0, finalityDepth)
}

/** Rolls the index back to `ancestor` in one transaction; returns the number of row changes undone. */
export async function rollbackTo(
  db: Kysely<Database>, chainId: number, ancestor: { number: number; hash: string }, fromBlock: number, leaderPid?: number,
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    if (leaderPid !== undefined) await assertLeader(trx, chainId, leaderPid)
    const journaled = await trx.selectFrom('chain.undo_log').select('table_name').distinct()
      .where('chain_id', '=', chainId).where('block_number', '>', String(ancestor.number)).execute()
    const touched = journaled.map((t) => t.table_name)
    // The append-only tables are not journaled (migration 0011): their rows go by block number.
    let deleted = 0
    for (const table of ['payments', 'token_transfers'] as const) {
      const { numDeletedRows } = await trx.deleteFrom(`chain.${table}`)
        .where('chain_id', '=', chainId).where('block_number', '>', String(ancestor.number)).executeTakeFirst()
      if (numDeletedRows > 0n) touched.push(table)
      deleted += Number(numDeletedRows)
    }
    const { rows } = await sql<{ undone: number }>`select chain.undo_to(${chainId}, ${ancestor.number}) as undone`.execute(trx)
    await trx.deleteFrom('chain.blocks').where('chain_id', '=', chainId).where('number', '>', String(ancestor.number)).execute()
    await saveCheckpoint(trx, chainId, { block: ancestor.number, hash: ancestor.hash })
    const notification: IndexNotification = { chainId, fromBlock: ancestor.number + 1, toBlock: fromBlock, tables: touched, reorg: true }
    await sql`select pg_notify(${INDEX_CHANNEL}, ${JSON.stringify(notification)})`.execute(trx)
    return deleted + Number(rows[0]?.undone ?? 0)
  })
}
