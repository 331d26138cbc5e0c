/** Reads and writes of projects, their members and the products they use. */
import { randomUUID } from 'node:crypto'
import type { Address } from 'viem'
import type { ProjectRole } from '../../db/index.js'
import type { OrgRole } from '../access/roles.js'
import type { WriteContext } from '../context.js'
import type { ProjectRow } from './views.js'

type Ctx = Pick<WriteContext, 'db' | 'chain'>

/** Live projects with their organization's index (for `org_id`). */
function liveProjects(w: Ctx) {
  return w.db
    .selectFrom('app.projects as p')
    .innerJoin('chain.organizations as o', (j) => j.onRef('o.chain_id', '=', 'p.chain_id').onRef('o.address', '=', 'p.organization'))
    .select([
      'p.id', 'p.uid', 'p.organization', 'o.index as org_index', 'p.name', 'p.search_enabled', 'p.memory_enabled', 'p.default_model_id',
      'p.created_at', 'p.updated_at',
    ])
    .where('p.chain_id', '=', w.chain.chainId)
    .where('p.deleted_at', 'is', null)
}

export async function projectById(w: Ctx, id: string | number): Promise<ProjectRow | undefined> {
  return liveProjects(w).where('p.id', '=', String(id)).executeTakeFirst()
}

export async function projectsOfOrganization(w: Ctx, organization: string): Promise<ProjectRow[]> {
  return liveProjects(w).where('p.organization', '=', organization).orderBy('p.id').execute()
}

/**
 * Every live project `wallet` can see, in organizations that are not archived: all projects of
 * the organizations it owns or is a member of (`organizations`, from organizationsOf), and
 * those it is a project member of; with its roles, by id.
 */
export async function projectsVisibleTo(
  w: Ctx, wallet: Address, organizations: readonly { address: string; role: OrgRole }[],
): Promise<{ row: ProjectRow; orgRole: OrgRole | null; projectRole: ProjectRole | null }[]> {
  const orgRoles = new Map(organizations.map((o) => [o.address, o.role]))
  const [ofOrganizations, memberships] = await Promise.all([
    orgRoles.size > 0 ? liveProjects(w).where('p.organization', 'in', [...orgRoles.keys()]).execute() : Promise.resolve([]),
    liveProjects(w)
      .innerJoin('app.project_members as pm', 'pm.project_id', 'p.id')
      .leftJoin('app.organization_settings as s', (j) => j.onRef('s.chain_id', '=', 'p.chain_id').onRef('s.organization', '=', 'p.organization'))
      .select('pm.role as project_role')
      .where('pm.address', '=', wallet)
      .where('s.archived_at', 'is', null)
      .execute(),
  ])
  const memberRoles = new Map(memberships.map((m) => [m.id, m.project_role]))
  const rows = new Map<string, ProjectRow>()
  for (const { project_role: _role, ...row } of memberships) rows.set(row.id, row)
  for (const row of ofOrganizations) rows.set(row.id, row)
  return [...rows.values()]
    .sort((a, b) => Number(a.id) - Number(b.id))
    .map((row) => {
      const orgRole = orgRoles.get(row.organization) ?? null
      const projectRole: ProjectRole | null = orgRole === 'owner' || orgRole === 'admin' ? 'admin' : (memberRoles.get(row.id) ?? null)
      return { row, orgRole, projectRole }
    })
}

export async function insertProject(w: Ctx, organization: string, name: string): Promise<string> {
  const row = await w.db
    .insertInto('app.projects')
    .values({ uid: randomUUID(), chain_id: w.chain.chainId, organization, name })
    .returning('id')
    .executeTakeFirstOrThrow()
  return row.id
}

export interface ProjectChange {
  name?: string
  search_enabled?: boolean
  memory_enabled?: boolean
  default_model_id?: number | null
}

export async function updateProject(w: Ctx & Pick<WriteContext, 'now'>, id: string, change: ProjectChange): Promise<void> {
  await w.db.updateTable('app.projects').set({ ...change, updated_at: w.now() }).where('id', '=', id).where('deleted_at', 'is', null).execute()
}

export async function softDeleteProject(w: Ctx & Pick<WriteContext, 'now'>, id: string): Promise<void> {
  await w.db.updateTable('app.projects').set({ deleted_at: w.now(), updated_at: w.now() }).where('id', '=', id).where('deleted_at', 'is', null).execute()
}

// ---- members ----

const memberColumns = ['address', 'role', 'created_at'] as const

export async function listProjectMembers(w: Ctx, projectId: string) {
  return w.db.selectFrom('app.project_members').select(memberColumns).where('project_id', '=', projectId).orderBy('created_at').orderBy('address').execute()
}

export async function findProjectMember(w: Ctx, projectId: string, address: Address) {
  return w.db.selectFrom('app.project_members').select(memberColumns).where('project_id', '=', projectId).where('address', '=', address).executeTakeFirst()
}

/** Adds a member; undefined when `address` already is one. */
export async function insertProjectMember(w: Ctx, projectId: string, address: Address, role: ProjectRole) {
  return w.db
    .insertInto('app.project_members')
    .values({ project_id: projectId, address, role })
    .onConflict((oc) => oc.columns(['project_id', 'address']).doNothing())
    .returning(memberColumns)
    .executeTakeFirst()
}

export async function updateProjectMemberRole(w: Ctx, projectId: string, address: Address, role: ProjectRole) {
  return w.db.updateTable('app.project_members').set({ role }).where('project_id', '=', projectId).where('address', '=', address).returning(memberColumns).executeTakeFirst()
}

export async function deleteProjectMember(w: Ctx, projectId: string, address: Address) {
  return w.db.deleteFrom('app.project_members').where('project_id', '=', projectId).where('address', '=', address).returning(memberColumns).executeTakeFirst()
}

// ---- products ----

export interface UsableProduct {
  id: number
  address: `0x${string}`
  name: string
  category: string
  uri: string
  price: bigint
}

/**
 * The products a project uses: those it enabled that its organization also has enabled on chain,
 * with their ids (orchestrator index + 1) and current prices, by id.
 */
export async function usableProducts(w: Ctx, projectId: string, organization: string): Promise<UsableProduct[]> {
  const rows = await w.db
    .selectFrom('app.project_products as pp')
    .innerJoin('chain.products as pr', (j) => j.on('pr.chain_id', '=', w.chain.chainId).onRef('pr.address', '=', 'pp.product'))
    .innerJoin('chain.product_enablements as e', (j) =>
      j.on('e.chain_id', '=', w.chain.chainId).on('e.organization', '=', organization).onRef('e.product', '=', 'pp.product').on('e.enabled', '=', true))
    .select(['pr.index', 'pr.address', 'pr.name', 'pr.category', 'pr.uri', 'pr.price'])
    .where('pp.project_id', '=', projectId)
    .orderBy('pr.index')
    .execute()
  return rows.map((r) => ({ id: Number(r.index) + 1, address: r.address as `0x${string}`, name: r.name, category: r.category, uri: r.uri, price: BigInt(r.price) }))
}
