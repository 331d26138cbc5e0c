/**
 * Batching: an organization's charged, unbatched ledger lines become one settlement batch (a
 * fresh random bytes32 id) and one queued settleUsage transaction, in a single database
 * transaction, so a crash leaves either nothing or the whole batch with its outbox entry.
 */
import { randomBytes } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import { encodeFunctionData, type Address, type Hex } from 'viem'
import { haitheOrchestratorAbi } from '../../chain/index.js'
import type { ChainConfig } from '../../config/index.js'
import type { Database } from '../../db/index.js'
import type { Outbox } from '../signer/outbox.js'

export interface SettleCall {
  organization: Address
  batchId: Hex
  products: Address[]
  amounts: bigint[]
  calls: bigint[]
  modelFee: bigint
  modelCalls: bigint
}

export interface CreatedBatch {
  batchId: Hex
  organization: string
  total: bigint
  lines: number
  outboxId: string
  call: SettleCall
}

export interface BatchDeps {
  db: Kysely<Database>
  chain: ChainConfig
  outbox: Outbox
}

/** A fresh batch id: 32 random bytes, 0x-prefixed lowercase hex (as the indexer stores UsageSettled's batchId). */
export function newBatchId(): Hex {
  return `0x${randomBytes(32).toString('hex')}`
}

/** The settleUsage calldata of a batch. */
export function encodeSettleUsage(call: SettleCall): Hex {
  return encodeFunctionData({
    abi: haitheOrchestratorAbi,
    functionName: 'settleUsage',
    args: [call.organization, call.batchId, call.products, call.amounts, call.calls, call.modelFee, call.modelCalls],
  })
}

/** Organizations with charged lines in no batch, and no batch still pending (one open batch per organization). */
export async function organizationsToSettle(deps: Pick<BatchDeps, 'db' | 'chain'>): Promise<string[]> {
  const rows = await deps.db
    .selectFrom('app.usage_ledger as l')
    .select('l.organization')
    .distinct()
    .where('l.chain_id', '=', deps.chain.chainId)
    .where('l.status', '=', 'charged')
    .where('l.batch_id', 'is', null)
    .where('l.settled_at', 'is', null)
    .where(({ not, exists, selectFrom }) =>
      not(exists(
        selectFrom('app.settlement_batches as b')
          .select('b.batch_id')
          .whereRef('b.organization', '=', 'l.organization')
          .where('b.chain_id', '=', deps.chain.chainId)
          .where('b.status', '=', 'pending'),
      )))
    .orderBy('l.organization')
    .execute()
  return rows.map((r) => r.organization)
}

/**
 * Puts up to `maxLines` of the organization's unbatched charged lines (oldest first) in a new
 * batch and queues its settleUsage; undefined when there was nothing to batch. Lines another
 * process is batching at the same moment are skipped (row locks), never batched twice.
 */
export async function createBatch(deps: BatchDeps, organization: string, maxLines: number): Promise<CreatedBatch | undefined> {
  const { db, chain, outbox } = deps
  return db.transaction().execute(async (trx) => {
    const lines = await trx
      .selectFrom('app.usage_ledger')
      .select(['id', 'amount', 'model_amount'])
      .where('chain_id', '=', chain.chainId)
      .where('organization', '=', organization)
      .where('status', '=', 'charged')
      .where('batch_id', 'is', null)
      .where('settled_at', 'is', null)
      .orderBy('id')
      .limit(maxLines)
      .forUpdate()
      .skipLocked()
      .execute()
    if (lines.length === 0) return undefined
    const ids = lines.map((l) => l.id)

    const products = await trx
      .selectFrom('app.usage_line_products')
      .select(['product', sql<string>`sum(amount)`.as('amount'), sql<string>`count(*)`.as('calls')])
      .where('ledger_id', 'in', ids)
      .groupBy('product')
      .orderBy('product')
      .execute()

    const total = lines.reduce((sum, l) => sum + BigInt(l.amount), 0n)
    const modelFee = lines.reduce((sum, l) => sum + BigInt(l.model_amount), 0n)
    const productsTotal = products.reduce((sum, p) => sum + BigInt(p.amount), 0n)
    if (productsTotal + modelFee !== total) {
      throw new Error(`settlement: the lines of ${organization} do not add up (amounts ${total}, model fees ${modelFee} + products ${productsTotal})`)
    }

    const batchId = newBatchId()
    const call: SettleCall = {
      organization: organization as Address,
      batchId,
      products: products.map((p) => p.product as Address),
      amounts: products.map((p) => BigInt(p.amount)),
      calls: products.map((p) => BigInt(p.calls)),
      modelFee,
      // Every line is one call: ModelFeePaid's calls is what the index counts as the organization's calls.
      modelCalls: BigInt(lines.length),
    }

    await trx
      .insertInto('app.settlement_batches')
      .values({ batch_id: batchId, chain_id: chain.chainId, organization, total, lines: lines.length, status: 'pending' })
      .execute()
    await trx
      .updateTable('app.usage_ledger')
      .set({ batch_id: batchId, updated_at: sql<Date>`now()` })
      .where('id', 'in', ids)
      .execute()
    const entry = await outbox.enqueue(
      { idempotencyKey: `settle:${batchId}`, kind: 'settle-usage', to: chain.contracts.orchestrator as Address, data: encodeSettleUsage(call) },
      trx,
    )
    await trx.updateTable('app.settlement_batches').set({ outbox_id: entry.id }).where('batch_id', '=', batchId).execute()
    return { batchId, organization, total, lines: lines.length, outboxId: entry.id, call }
  })
}
