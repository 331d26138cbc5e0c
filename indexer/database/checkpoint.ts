import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../../src/db/index.js'

type Db = Kysely<Database> | Transaction<Database>

export interface Checkpoint {
  /** Every event up to and including this block is applied. */
  block: number
  /** Its hash, when known (always for unfinalized blocks). */
  hash: string | null
}

export async function readCheckpoint(db: Db, chainId: number): Promise<Checkpoint | undefined> {
  const row = await db.selectFrom('chain.checkpoints').select(['block_number', 'block_hash']).where('chain_id', '=', chainId).executeTakeFirst()
  return row ? { block: Number(row.block_number), hash: row.block_hash } : undefined
}

export async function saveCheckpoint(db: Db, chainId: number, checkpoint: Checkpoint): Promise<void> {
  await db
    .insertInto('chain.checkpoints')
    .values({ chain_id: chainId, block_number: BigInt(checkpoint.block), block_hash: checkpoint.hash, updated_at: new Date() })
    .onConflict((oc) => oc.column('chain_id').doUpdateSet({ block_number: BigInt(checkpoint.block), block_hash: checkpoint.hash, updated_at: new Date() }))
    .execute()
}
