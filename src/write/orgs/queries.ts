/**
 * Reads and writes of organizations' application state: the on-chain organization (from the
 * index) with its display name and archiving, members, model enrolment, balance and spend.
 */
import { sql } from 'kysely'
import type { Address } from 'viem'
import type { WriteContext } from '../context.js'
import type { OrgRole } from '../access/roles.js'
import type { OrganizationRow } from './views.js'

type Ctx = Pick<WriteContext, 'db' | 'chain'>

/** chain.organizations with the organization's settings (display name, archiving). */
function organizationsWithSettings(w: Ctx) {
  return w.db
    .selectFrom('chain.organizations as o')
    .leftJoin('app.organization_settings as s', (j) => j.onRef('s.chain_id', '=', 'o.chain_id').onRef('s.organization', '=', 'o.address'))
    .select(['o.address', 'o.index', 'o.owner', 'o.name', 'o.created_block', 'o.created_tx', 'o.created_at', 's.display_name', 's.archived_at'])
    .where('o.chain_id', '=', w.chain.chainId)
}

export async function organizationByAddress(w: Ctx, address: string): Promise<OrganizationRow | undefined> {
  return organizationsWithSettings(w).where('o.address', '=', address.toLowerCase()).executeTakeFirst()
}

export async function organizationByName(w: Ctx, name: string): Promise<OrganizationRow | undefined> {
  return organizationsWithSettings(w).where('o.name', '=', name).executeTakeFirst()
}

/** The newest organization `owner` owns on chain (archived ones included: the caller decides). */
export async function newestOwnedOrganization(w: Ctx, owner: Address): Promise<OrganizationRow | undefined> {
  return organizationsWithSettings(w).where('o.owner', '=', owner).orderBy('o.index', 'desc').limit(1).executeTakeFirst()
}

/**
 * Organizations `wallet` owns on chain or is a member of, not archived, with its role, by id.
 * Two indexed reads (by owner, by member address) rather than one OR over a join.
 */
export async function organizationsOf(w: Ctx, wallet: Address): Promise<{ row: OrganizationRow; role: OrgRole }[]> {
  const [owned, memberships] = await Promise.all([
    organizationsWithSettings(w).where('o.owner', '=', wallet).where('s.archived_at', 'is', null).execute(),
    organizationsWithSettings(w)
      .innerJoin('app.org_members as m', (j) => j.onRef('m.chain_id', '=', 'o.chain_id').onRef('m.organization', '=', 'o.address'))
      .select('m.role as member_role')
      .where('m.address', '=', wallet)
      .where('s.archived_at', 'is', null)
      .execute(),
  ])
  const byAddress = new Map<string, { row: OrganizationRow; role: OrgRole }>()
  for (const { member_role, ...row } of memberships) byAddress.set(row.address, { row, role: member_role })
  for (const row of owned) byAddress.set(row.address, { row, role: 'owner' })
  return [...byAddress.values()].sort((a, b) => Number(a.row.index) - Number(b.row.index))
}

/**
 * Records that the organization became visible through POST /orgs. The first time, it enrols
 * the free default model, as v1 did; a repeat leaves enrolment alone (it may have been changed).
 */
export async function rememberOrganization(w: Ctx, organization: string, defaultModelId: number): Promise<void> {
  await w.db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('app.organization_settings')
      .values({ chain_id: w.chain.chainId, organization, display_name: null, archived_at: null })
      .onConflict((oc) => oc.columns(['chain_id', 'organization']).doNothing())
      .returning('organization')
      .executeTakeFirst()
    if (!inserted) return
    await trx
      .insertInto('app.org_model_enrollments')
      .values({ chain_id: w.chain.chainId, organization, model_id: defaultModelId })
      .onConflict((oc) => oc.columns(['chain_id', 'organization', 'model_id']).doNothing())
      .execute()
  })
}

export async function setOrganizationSettings(
  w: Ctx & Pick<WriteContext, 'now'>, organization: string, change: { display_name?: string; archived_at?: Date },
): Promise<void> {
  await w.db
    .insertInto('app.organization_settings')
    .values({ chain_id: w.chain.chainId, organization, display_name: change.display_name ?? null, archived_at: change.archived_at ?? null, updated_at: w.now() })
    .onConflict((oc) => oc.columns(['chain_id', 'organization']).doUpdateSet({ ...change, updated_at: w.now() }))
    .execute()
}

// ---- members ----

export async function listOrgMembers(w: Ctx, organization: string) {
  return w.db
    .selectFrom('app.org_members')
    .select(['address', 'role', 'created_at'])
    .where('chain_id', '=', w.chain.chainId)
    .where('organization', '=', organization)
    .orderBy('created_at')
    .orderBy('address')
    .execute()
}

export async function findOrgMember(w: Ctx, organization: string, address: Address) {
  return w.db
    .selectFrom('app.org_members')
    .select(['address', 'role', 'created_at'])
    .where('chain_id', '=', w.chain.chainId)
    .where('organization', '=', organization)
    .where('address', '=', address)
    .executeTakeFirst()
}

/** Adds a member; undefined when `address` already is one. */
export async function insertOrgMember(w: Ctx, organization: string, address: Address, role: 'admin' | 'member') {
  return w.db
    .insertInto('app.org_members')
    .values({ chain_id: w.chain.chainId, organization, address, role })
    .onConflict((oc) => oc.columns(['chain_id', 'organization', 'address']).doNothing())
    .returning(['address', 'role', 'created_at'])
    .executeTakeFirst()
}

export async function updateOrgMemberRole(w: Ctx, organization: string, address: Address, role: 'admin' | 'member') {
  return w.db
    .updateTable('app.org_members')
    .set({ role })
    .where('chain_id', '=', w.chain.chainId)
    .where('organization', '=', organization)
    .where('address', '=', address)
    .returning(['address', 'role', 'created_at'])
    .executeTakeFirst()
}

export async function deleteOrgMember(w: Ctx, organization: string, address: Address) {
  return w.db
    .deleteFrom('app.org_members')
    .where('chain_id', '=', w.chain.chainId)
    .where('organization', '=', organization)
    .where('address', '=', address)
    .returning(['address', 'role', 'created_at'])
    .executeTakeFirst()
}

// ---- models ----

const modelColumns = ['id', 'name', 'display_name', 'provider', 'is_active', 'price_per_call'] as const

export async function listModels(w: Pick<WriteContext, 'db'>) {
  return w.db.selectFrom('app.models').select(modelColumns).orderBy('id').execute()
}

export async function findModel(w: Pick<WriteContext, 'db'>, id: number) {
  return w.db.selectFrom('app.models').select(modelColumns).where('id', '=', id).executeTakeFirst()
}

/** The models the organization enrolled, with when. */
export async function enrolledModels(w: Ctx, organization: string) {
  return w.db
    .selectFrom('app.org_model_enrollments as e')
    .innerJoin('app.models as m', 'm.id', 'e.model_id')
    .select(['m.id', 'm.name', 'm.display_name', 'm.provider', 'm.is_active', 'm.price_per_call', 'e.created_at as enrolled_at'])
    .where('e.chain_id', '=', w.chain.chainId)
    .where('e.organization', '=', organization)
    .orderBy('m.id')
    .execute()
}

export async function isModelEnrolled(w: Ctx, organization: string, modelId: number): Promise<boolean> {
  const row = await w.db
    .selectFrom('app.org_model_enrollments')
    .select('model_id')
    .where('chain_id', '=', w.chain.chainId)
    .where('organization', '=', organization)
    .where('model_id', '=', modelId)
    .executeTakeFirst()
  return row !== undefined
}

export async function enrollModel(w: Ctx, organization: string, modelId: number): Promise<void> {
  await w.db
    .insertInto('app.org_model_enrollments')
    .values({ chain_id: w.chain.chainId, organization, model_id: modelId })
    .onConflict((oc) => oc.columns(['chain_id', 'organization', 'model_id']).doNothing())
    .execute()
}

export async function unenrollModel(w: Ctx, organization: string, modelId: number): Promise<boolean> {
  const result = await w.db
    .deleteFrom('app.org_model_enrollments')
    .where('chain_id', '=', w.chain.chainId)
    .where('organization', '=', organization)
    .where('model_id', '=', modelId)
    .executeTakeFirst()
  return result.numDeletedRows > 0n
}

/** Live projects of the organization whose default model is `modelId`. */
export async function projectsDefaultingTo(w: Ctx, organization: string, modelId: number): Promise<string[]> {
  const rows = await w.db
    .selectFrom('app.projects')
    .select('id')
    .where('chain_id', '=', w.chain.chainId)
    .where('organization', '=', organization)
    .where('default_model_id', '=', modelId)
    .where('deleted_at', 'is', null)
    .orderBy('id')
    .execute()
  return rows.map((r) => r.id)
}

// ---- money ----

/** The organization's tUSDT balance and what it has spent, as the index last saw them. */
export async function organizationFunds(w: Ctx, organization: string): Promise<{ balance: bigint; spent: bigint; deposited: bigint }> {
  const row = await w.db
    .selectFrom('chain.organizations')
    .select(['balance', 'spent', 'deposited'])
    .where('chain_id', '=', w.chain.chainId)
    .where('address', '=', organization)
    .executeTakeFirstOrThrow()
  return { balance: BigInt(row.balance), spent: BigInt(row.spent), deposited: BigInt(row.deposited) }
}

/**
 * Charges the gateway has made but not yet settled on chain: Σ amount of the organization's
 * charged usage lines whose settlement the index has not seen (open reservations are not spent).
 */
export async function unsettledCharges(w: Ctx, organization: string): Promise<bigint> {
  const row = await w.db
    .selectFrom('app.usage_ledger')
    .select(sql<string>`coalesce(sum(amount), 0)::text`.as('unsettled'))
    .where('chain_id', '=', w.chain.chainId)
    .where('organization', '=', organization.toLowerCase())
    .where('status', '=', 'charged')
    .where('settled_at', 'is', null)
    .executeTakeFirstOrThrow()
  return BigInt(row.unsettled)
}
