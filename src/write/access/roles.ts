/**
 * Who may do what. The owner of an organization is whoever owns its contract on chain (the
 * index says); admins and members are application rows. A project's effective role is `admin`
 * for the organization's owner and admins, else the caller's project membership.
 *
 * Ids: an organization's id is its orchestrator index + 1, a product's its orchestrator index
 * + 1 (v1's integer ids start at 1); a project's is its row id.
 */
import type { Address } from 'viem'
import type { OrgMemberRole, ProjectRole } from '../../db/index.js'
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'

export type OrgRole = 'owner' | OrgMemberRole

export interface OrganizationRef {
  id: number
  address: Address
  owner: Address
  name: string
}

export interface ProjectRef {
  id: string
  uid: string
  organization: Address
  name: string
}

export async function findOrganization(w: Pick<WriteContext, 'db' | 'chain'>, id: number): Promise<OrganizationRef | undefined> {
  const row = await w.db
    .selectFrom('chain.organizations')
    .select(['address', 'owner', 'name', 'index'])
    .where('chain_id', '=', w.chain.chainId)
    .where('index', '=', String(id - 1))
    .executeTakeFirst()
  return row && { id, address: row.address as Address, owner: row.owner as Address, name: row.name }
}

export async function findOrganizationByAddress(w: Pick<WriteContext, 'db' | 'chain'>, address: Address): Promise<OrganizationRef | undefined> {
  const row = await w.db
    .selectFrom('chain.organizations')
    .select(['address', 'owner', 'name', 'index'])
    .where('chain_id', '=', w.chain.chainId)
    .where('address', '=', address)
    .executeTakeFirst()
  return row && { id: Number(row.index) + 1, address: row.address as Address, owner: row.owner as Address, name: row.name }
}

export async function orgRoleOf(w: Pick<WriteContext, 'db' | 'chain'>, org: OrganizationRef, wallet: Address): Promise<OrgRole | null> {
  if (org.owner === wallet) return 'owner'
  const member = await w.db
    .selectFrom('app.org_members')
    .select('role')
    .where('chain_id', '=', w.chain.chainId)
    .where('organization', '=', org.address)
    .where('address', '=', wallet)
    .executeTakeFirst()
  return member?.role ?? null
}

/**
 * The organization `id` and the caller's role in it, if that role is one of `allowed`. An
 * unknown id is 404; a known one the caller has no allowed role in is 403 (a caller with no
 * role at all learns no more than that it exists); an archived one is 410 to its members.
 */
export async function requireOrgRole(
  w: Pick<WriteContext, 'db' | 'chain'>, id: number, wallet: Address, allowed: readonly OrgRole[],
): Promise<{ org: OrganizationRef; role: OrgRole }> {
  const org = await findOrganization(w, id)
  if (!org) throw new WriteError(404, `organization ${id} does not exist (or is not indexed yet)`)
  const role = await orgRoleOf(w, org, wallet)
  if (!role) throw new WriteError(403, `you are not a member of organization ${id}`)
  await refuseArchived(w, org)
  if (!allowed.includes(role)) throw new WriteError(403, `this needs the organization role ${allowed.join(' or ')}; you are ${role}`)
  return { org, role }
}

/** When the organization's owner archived it (DELETE /orgs/:id, application state), else null. */
export async function archivedAtOf(w: Pick<WriteContext, 'db' | 'chain'>, org: Pick<OrganizationRef, 'address'>): Promise<Date | null> {
  const row = await w.db
    .selectFrom('app.organization_settings')
    .select('archived_at')
    .where('chain_id', '=', w.chain.chainId)
    .where('organization', '=', org.address)
    .executeTakeFirst()
  return row?.archived_at ?? null
}

/**
 * An archived organization answers 410 to those who have a role in it (and so knew it); callers
 * without a role get the usual 403 first, so archiving reveals nothing to outsiders.
 */
async function refuseArchived(w: Pick<WriteContext, 'db' | 'chain'>, org: OrganizationRef): Promise<void> {
  const archivedAt = await archivedAtOf(w, org)
  if (archivedAt) throw new WriteError(410, `organization ${org.id} was archived on ${archivedAt.toISOString()}`, 'archived')
}

export async function findProject(w: Pick<WriteContext, 'db' | 'chain'>, id: string | number): Promise<ProjectRef | undefined> {
  const row = await w.db
    .selectFrom('app.projects')
    .select(['id', 'uid', 'organization', 'name'])
    .where('id', '=', String(id))
    .where('chain_id', '=', w.chain.chainId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst()
  return row && { id: row.id, uid: row.uid, organization: row.organization as Address, name: row.name }
}

export interface ProjectAccess {
  project: ProjectRef
  org: OrganizationRef
  orgRole: OrgRole | null
  /** `admin` for the organization's owner and admins, else the project membership. */
  projectRole: ProjectRole | null
}

export async function projectAccessOf(w: Pick<WriteContext, 'db' | 'chain'>, project: ProjectRef, wallet: Address): Promise<ProjectAccess> {
  const org = await findOrganizationByAddress(w, project.organization)
  if (!org) throw new Error(`project ${project.id} belongs to ${project.organization}, which is not indexed`)
  const orgRole = await orgRoleOf(w, org, wallet)
  if (orgRole === 'owner' || orgRole === 'admin') return { project, org, orgRole, projectRole: 'admin' }
  const member = await w.db
    .selectFrom('app.project_members')
    .select('role')
    .where('project_id', '=', project.id)
    .where('address', '=', wallet)
    .executeTakeFirst()
  return { project, org, orgRole, projectRole: member?.role ?? null }
}

/**
 * The project `id` and the caller's access, if it satisfies `allowed`: organization roles and
 * (effective) project roles, either of which suffices. Unknown (or deleted) id 404, else 403;
 * a project of an archived organization is 410 to those with a role in it.
 */
export async function requireProjectAccess(
  w: Pick<WriteContext, 'db' | 'chain'>, id: string | number, wallet: Address, allowed: { org?: readonly OrgRole[]; project?: readonly ProjectRole[] },
): Promise<ProjectAccess> {
  const project = await findProject(w, id)
  if (!project) throw new WriteError(404, `project ${id} does not exist`)
  const access = await projectAccessOf(w, project, wallet)
  const byOrg = access.orgRole !== null && (allowed.org ?? []).includes(access.orgRole)
  const byProject = access.projectRole !== null && (allowed.project ?? []).includes(access.projectRole)
  if (access.orgRole === null && access.projectRole === null) throw new WriteError(403, `you are not a member of project ${id}`)
  await refuseArchived(w, access.org)
  if (!byOrg && !byProject) {
    const needs = [...(allowed.org ?? []).map((r) => `organization ${r}`), ...(allowed.project ?? []).map((r) => `project ${r}`)].join(' or ')
    throw new WriteError(403, `this needs the role ${needs}`)
  }
  return access
}
