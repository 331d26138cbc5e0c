/**
 * Reconciliation: per organization, what the ledger says is settled (Σ amount of settled lines)
 * against what the chain says it paid for our batches (Σ UsageSettled totals of our batch ids).
 */
import { sql, type Kysely } from 'kysely'
import type { ChainConfig } from '../../config/index.js'
import type { Database } from '../../db/index.js'

export interface Reconciliation {
  organization: string
  ledgerSettled: bigint
  onChainSettled: bigint
  /** ledgerSettled − onChainSettled: 0 when they agree. */
  difference: bigint
}

type Deps = { db: Kysely<Database>; chain: Pick<ChainConfig, 'chainId'> }

/** Every organization with settled lines or settlement payments (or just `organization`). */
export async function reconcile(deps: Deps, organization?: string): Promise<Reconciliation[]> {
  const { db, chain } = deps
  let ledger = db
    .selectFrom('app.usage_ledger')
    .select(['organization', sql<string>`coalesce(sum(amount), 0)`.as('total')])
    .where('chain_id', '=', chain.chainId)
    .where('settled_at', 'is not', null)
    .groupBy('organization')
  let onChain = db
    .selectFrom('chain.payments as p')
    .innerJoin('app.settlement_batches as b', (join) => join.onRef('b.batch_id', '=', 'p.batch_id').onRef('b.chain_id', '=', 'p.chain_id'))
    .select(['b.organization', sql<string>`coalesce(sum(p.amount), 0)`.as('total')])
    .where('p.chain_id', '=', chain.chainId)
    .where('p.kind', '=', 'settlement')
    .groupBy('b.organization')
  if (organization !== undefined) {
    ledger = ledger.where('organization', '=', organization)
    onChain = onChain.where('b.organization', '=', organization)
  }
  const [ledgerRows, chainRows] = await Promise.all([ledger.execute(), onChain.execute()])
  const byOrg = new Map<string, Reconciliation>()
  const entry = (org: string) => {
    let r = byOrg.get(org)
    if (!r) byOrg.set(org, (r = { organization: org, ledgerSettled: 0n, onChainSettled: 0n, difference: 0n }))
    return r
  }
  if (organization !== undefined) entry(organization)
  for (const row of ledgerRows) entry(row.organization).ledgerSettled = BigInt(row.total)
  for (const row of chainRows) entry(row.organization).onChainSettled = BigInt(row.total)
  for (const r of byOrg.values()) r.difference = r.ledgerSettled - r.onChainSettled
  return [...byOrg.values()].sort((a, b) => a.organization.localeCompare(b.organization))
}
