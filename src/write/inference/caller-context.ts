/**
 * Who calls the OpenAI-compatible routes, for which organization and project. The principal comes
 * from the gateway's authentication (session JWT, `sk-` wallet key or `sk-proj-` scoped key, sent
 * as `Authorization: Bearer`); the organization from `Haithe-Organization` / `OpenAI-Organization`
 * (`org-<address without 0x>`), the project from `Haithe-Project` / `OpenAI-Project`
 * (`proj-<app.projects.uid>`). A scoped key carries its own organization and project.
 */
import type { Context } from 'koa'
import type { Address } from 'viem'
import type { Principal } from '../auth/principal.js'
import type { WriteContext } from '../context.js'
import { archivedAtOf, findOrganizationByAddress, findProject, orgRoleOf, projectAccessOf, type OrganizationRef, type ProjectRef } from '../access/roles.js'
import { OpenAiError } from './openai-error.js'

export interface CallerContext {
  principal: Principal
  /** The calling wallet (a scoped key's issuer), lowercased. */
  wallet: Address
  /** The API key used, if any. */
  apiKeyId: string | null
  /** A scoped key's monthly spend limit. */
  monthlyLimit: bigint | null
  org: OrganizationRef | null
  project: ProjectRef | null
}

/** Roles that may call inference (v1): organization owner/admin, project admin/developer. */
const CALLING_PROJECT_ROLES: ReadonlySet<string> = new Set(['admin', 'developer'])

function requirePrincipal(principal: Principal | undefined): Principal {
  if (!principal) {
    throw new OpenAiError(401, 'invalid_api_key', 'You did not provide an API key: send Authorization: Bearer <sk- key, scoped key or session token>.')
  }
  return principal
}

const header = (c: Context, ...names: string[]): string | undefined => {
  for (const name of names) {
    const value = c.get(name).trim()
    if (value) return value
  }
  return undefined
}

/** `org-<40 hex>` (or a plain address) → the lowercased address. */
function parseOrganization(value: string): Address {
  const match = /^(?:org-|0x)([0-9a-fA-F]{40})$/.exec(value)
  if (!match) throw new OpenAiError(400, 'invalid_organization', `organization header "${value.slice(0, 80)}" is not org-<organization address without 0x>`)
  return `0x${match[1]!.toLowerCase()}` as Address
}

function parseProjectUid(value: string): string {
  const match = /^proj-([0-9a-zA-Z-]{1,64})$/.exec(value)
  if (!match) throw new OpenAiError(400, 'invalid_project', `project header "${value.slice(0, 80)}" is not proj-<project uid>`)
  return match[1]!.toLowerCase()
}

async function projectByUid(w: Pick<WriteContext, 'db' | 'chain'>, uid: string): Promise<ProjectRef | undefined> {
  const row = await w.db
    .selectFrom('app.projects')
    .select(['id', 'uid', 'organization', 'name'])
    .where('chain_id', '=', w.chain.chainId)
    .where('uid', '=', uid)
    .where('deleted_at', 'is', null)
    .executeTakeFirst()
  return row && { id: String(row.id), uid: row.uid, organization: row.organization as Address, name: row.name }
}

async function refuseArchived(w: Pick<WriteContext, 'db' | 'chain'>, org: OrganizationRef): Promise<void> {
  const archivedAt = await archivedAtOf(w, org)
  if (archivedAt) throw new OpenAiError(403, 'organization_archived', `organization org-${org.address.slice(2)} was archived on ${archivedAt.toISOString()}`)
}

/**
 * Resolves and checks the caller. `needProject`: chat completions need an organization and a
 * project the caller may call inference in; GET /models takes an optional organization the
 * caller belongs to.
 */
export async function resolveCaller(w: WriteContext, c: Context, needProject: boolean): Promise<CallerContext> {
  const scope = { organization: header(c, 'haithe-organization', 'openai-organization'), project: header(c, 'haithe-project', 'openai-project') }
  const principal = c.state.principal
  if (!principal) return resolveCallerOf(w, principal, scope, needProject)
  const who = principal.kind === 'session' ? `session:${principal.sessionId}` : `key:${principal.keyId}`
  return w.callCache.get(`caller:${who}:${scope.organization ?? ''}:${scope.project ?? ''}:${needProject}`, () => resolveCallerOf(w, principal, scope, needProject))
}

/** The same for a principal authenticated elsewhere (the WebSocket), with the organization and project named as in the headers. */
export async function resolveCallerOf(
  w: WriteContext, authenticated: Principal | undefined, scope: { organization?: string | undefined; project?: string | undefined }, needProject: boolean,
): Promise<CallerContext> {
  const principal = requirePrincipal(authenticated)
  const wallet = principal.address.toLowerCase() as Address
  const apiKeyId = principal.kind === 'session' ? null : principal.keyId
  const monthlyLimit = principal.kind === 'scopedKey' ? principal.monthlyLimit : null
  const orgAddress = scope.organization ? parseOrganization(scope.organization) : undefined
  const projectUid = scope.project ? parseProjectUid(scope.project) : undefined

  if (principal.kind === 'scopedKey') {
    const keyOrg = principal.organization.toLowerCase() as Address
    if (orgAddress && orgAddress !== keyOrg) throw new OpenAiError(403, 'organization_mismatch', 'this API key belongs to another organization than the one named in the request headers')
    const project = await findProject(w, principal.projectId)
    if (!project) throw new OpenAiError(403, 'project_deleted', 'the project of this API key no longer exists')
    if (projectUid && projectUid !== project.uid.toLowerCase()) throw new OpenAiError(403, 'project_mismatch', 'this API key belongs to another project than the one named in the request headers')
    const org = await findOrganizationByAddress(w, keyOrg)
    if (!org) throw new OpenAiError(403, 'organization_not_indexed', `organization org-${keyOrg.slice(2)} is not indexed yet`)
    await refuseArchived(w, org)
    if (needProject && !CALLING_PROJECT_ROLES.has(principal.role)) {
      throw new OpenAiError(403, 'insufficient_permissions', `this API key has the project role ${principal.role}; inference needs admin or developer`)
    }
    return { principal, wallet, apiKeyId, monthlyLimit, org, project }
  }

  let org: OrganizationRef | null = null
  if (orgAddress) {
    org = (await findOrganizationByAddress(w, orgAddress)) ?? null
    if (!org) throw new OpenAiError(404, 'organization_not_found', `organization org-${orgAddress.slice(2)} does not exist (or is not indexed yet)`)
  }
  if (!needProject) {
    if (org) {
      const role = await orgRoleOf(w, org, wallet)
      const inAProject = role ? true : await memberOfAProject(w, org, wallet)
      if (!inAProject) throw new OpenAiError(403, 'not_a_member', `you are not a member of organization org-${org.address.slice(2)}`)
    }
    return { principal, wallet, apiKeyId, monthlyLimit, org, project: null }
  }

  if (!projectUid) {
    throw new OpenAiError(400, 'missing_project', 'name the project: send the header OpenAI-Project (or Haithe-Project): proj-<project uid> (or use a scoped API key)')
  }
  const project = await projectByUid(w, projectUid)
  if (!project) throw new OpenAiError(404, 'project_not_found', `project proj-${projectUid} does not exist`)
  if (org && org.address !== project.organization.toLowerCase()) {
    throw new OpenAiError(403, 'project_mismatch', `project proj-${projectUid} does not belong to organization org-${org.address.slice(2)}`)
  }
  const access = await projectAccessOf(w, project, wallet)
  if (access.orgRole === null && access.projectRole === null) throw new OpenAiError(403, 'not_a_member', `you are not a member of project proj-${projectUid}`)
  await refuseArchived(w, access.org)
  const allowed = access.orgRole === 'owner' || access.orgRole === 'admin' || (access.projectRole !== null && CALLING_PROJECT_ROLES.has(access.projectRole))
  if (!allowed) throw new OpenAiError(403, 'insufficient_permissions', `inference needs the organization role owner or admin or the project role admin or developer; you are ${access.projectRole ?? access.orgRole}`)
  return { principal, wallet, apiKeyId, monthlyLimit, org: access.org, project }
}

async function memberOfAProject(w: Pick<WriteContext, 'db' | 'chain'>, org: OrganizationRef, wallet: Address): Promise<boolean> {
  const row = await w.db
    .selectFrom('app.project_members as m')
    .innerJoin('app.projects as p', 'p.id', 'm.project_id')
    .select('m.project_id')
    .where('p.chain_id', '=', w.chain.chainId)
    .where('p.organization', '=', org.address)
    .where('m.address', '=', wallet)
    .executeTakeFirst()
  return row !== undefined
}
