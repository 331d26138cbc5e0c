/**
 * Projects (v1's /projects routes and /me/projects). A project belongs to an organization; the
 * organization's owner and admins administer every project of it, others need a project role.
 *
 * Who may do what: reading a project, its members and its products takes any organization role
 * or any project role; creating, changing settings and deleting take the organization's owner
 * or an admin; managing members takes project admin (which they are). Anyone may leave.
 */
import { z } from 'zod'
import type { ProjectRole } from '../../db/index.js'
import { requireOrgRole, requireProjectAccess, type OrgRole } from '../access/roles.js'
import type { WriteContext } from '../context.js'
import { badRequest, conflict, notFound } from '../http/errors.js'
import { address, displayName, flag, id } from '../http/inputs.js'
import { route, type WriteRoute, walletOf } from '../http/route.js'
import { findModel, isModelEnrolled, organizationsOf } from '../orgs/queries.js'
import {
  deleteProjectMember, findProjectMember, insertProject, insertProjectMember, listProjectMembers, projectById, projectsVisibleTo, softDeleteProject,
  updateProject, updateProjectMemberRole, usableProducts, type ProjectChange,
} from './queries.js'
import { toProjectMemberView, toProjectView, type ProjectView } from './views.js'

const READERS = { org: ['owner', 'admin', 'member'], project: ['admin', 'developer', 'viewer'] } as const satisfies { org: OrgRole[]; project: ProjectRole[] }
const MEMBER_MANAGERS = { org: ['owner', 'admin'], project: ['admin'] } as const satisfies { org: OrgRole[]; project: ProjectRole[] }
const ORG_MANAGERS = { org: ['owner', 'admin'] } as const satisfies { org: OrgRole[] }

const projectPath = z.object({ id })
const projectRole = z.enum(['admin', 'developer', 'viewer'], { error: 'must be admin, developer or viewer' })
const memberTarget = z.object({ id, wallet_address: address })
/** A model id, or null / empty / "null" to clear the default. */
const defaultModel = z.union([z.null(), z.literal('').transform(() => null), z.literal('null').transform(() => null), id], {
  error: 'must be a model id (or null to clear it)',
})

async function projectView(w: Pick<WriteContext, 'db' | 'chain'>, projectId: string, caller?: { role: ProjectRole | null; orgRole: OrgRole | null }): Promise<ProjectView> {
  const row = await projectById(w, projectId)
  if (!row) throw notFound(`project ${projectId} does not exist`)
  return toProjectView(row, caller)
}

export const projectRoutes: WriteRoute[] = [
  route({
    method: 'GET', path: '/v1/me/projects', access: 'wallet',
    summary: 'Projects the caller can see: every project of its organizations and those it is a member of, with its roles.',
    async handle({ w, principal }) {
      const wallet = walletOf(principal)
      const organizations = await organizationsOf(w, wallet)
      const projects = await projectsVisibleTo(w, wallet, organizations.map((o) => ({ address: o.row.address, role: o.role })))
      return { data: projects.map((p) => toProjectView(p.row, { role: p.projectRole, orgRole: p.orgRole })), message: 'Projects fetched' }
    },
  }),

  route({
    method: 'POST', path: '/v1/projects', access: 'wallet',
    summary: 'Creates a project in an organization (its owner or an admin).',
    input: z.object({ org_id: id, name: displayName }),
    async handle({ w, principal, input }) {
      const { org, role } = await requireOrgRole(w, input.org_id, walletOf(principal), ORG_MANAGERS.org)
      const projectId = await insertProject(w, org.address, input.name)
      return { status: 201, data: await projectView(w, projectId, { role: 'admin', orgRole: role }), message: 'Project created' }
    },
  }),

  route({
    method: 'GET', path: '/v1/projects/:id', access: 'wallet',
    summary: 'One project (any organization or project role).', input: projectPath,
    async handle({ w, principal, input }) {
      const access = await requireProjectAccess(w, input.id, walletOf(principal), READERS)
      return { data: await projectView(w, access.project.id, { role: access.projectRole, orgRole: access.orgRole }), message: 'Project retrieved' }
    },
  }),

  route({
    method: 'PATCH', path: '/v1/projects/:id', access: 'wallet',
    summary: 'Changes name, search_enabled, memory_enabled, default_model_id (an enrolled, active model of the organization; null clears it). Organization owner or admin.',
    input: z.strictObject({ id, name: displayName.optional(), search_enabled: flag.optional(), memory_enabled: flag.optional(), default_model_id: defaultModel.optional() }),
    async handle({ w, principal, input }) {
      const access = await requireProjectAccess(w, input.id, walletOf(principal), ORG_MANAGERS)
      const { id: _id, ...fields } = input
      const change: ProjectChange = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined))
      if (Object.keys(change).length === 0) throw badRequest('nothing to change: send name, search_enabled, memory_enabled or default_model_id')
      if (typeof change.default_model_id === 'number') {
        const model = await findModel(w, change.default_model_id)
        if (!model) throw badRequest(`default_model_id: model ${change.default_model_id} does not exist`)
        if (!(await isModelEnrolled(w, access.org.address, model.id))) {
          throw badRequest(`default_model_id: model ${model.id} (${model.name}) is not enrolled in organization ${access.org.id}; enrol it with POST /api/v1/orgs/${access.org.id}/models?model_id=${model.id}`)
        }
        if (!model.is_active) throw badRequest(`default_model_id: model ${model.id} (${model.name}) is not active`)
      }
      await updateProject(w, access.project.id, change)
      return { data: await projectView(w, access.project.id, { role: access.projectRole, orgRole: access.orgRole }), message: 'Project updated' }
    },
  }),

  route({
    method: 'DELETE', path: '/v1/projects/:id', access: 'wallet',
    summary: 'Deletes a project (organization owner or admin); its id answers 404 afterwards.', input: projectPath,
    async handle({ w, principal, input }) {
      const access = await requireProjectAccess(w, input.id, walletOf(principal), ORG_MANAGERS)
      const view = await projectView(w, access.project.id)
      await softDeleteProject(w, access.project.id)
      return { data: view, message: 'Project deleted' }
    },
  }),

  // ---- members ----

  route({
    method: 'GET', path: '/v1/projects/:id/members', access: 'wallet',
    summary: 'The project\'s members (any organization or project role). The organization\'s owner and admins administer it without a row.',
    input: projectPath,
    async handle({ w, principal, input }) {
      const { project } = await requireProjectAccess(w, input.id, walletOf(principal), READERS)
      return { data: (await listProjectMembers(w, project.id)).map((m) => toProjectMemberView(project.id, m)), message: 'Project members retrieved' }
    },
  }),

  route({
    method: 'POST', path: '/v1/projects/:id/members', access: 'wallet',
    summary: 'Adds a member with a role: admin, developer or viewer (project admin).',
    input: memberTarget.extend({ role: projectRole }),
    async handle({ w, principal, input }) {
      const { project, org } = await requireProjectAccess(w, input.id, walletOf(principal), MEMBER_MANAGERS)
      if (input.wallet_address === org.owner) throw conflict(`${input.wallet_address} owns the organization and administers every project of it`)
      const added = await insertProjectMember(w, project.id, input.wallet_address, input.role)
      if (!added) {
        const existing = await findProjectMember(w, project.id, input.wallet_address)
        throw conflict(`${input.wallet_address} already is a member (${existing?.role ?? 'member'}); change the role with PATCH`)
      }
      return { status: 201, data: toProjectMemberView(project.id, added), message: 'Member added to project' }
    },
  }),

  route({
    method: 'PATCH', path: '/v1/projects/:id/members', access: 'wallet',
    summary: 'Changes a member\'s role (project admin).',
    input: memberTarget.extend({ role: projectRole }),
    async handle({ w, principal, input }) {
      const { project } = await requireProjectAccess(w, input.id, walletOf(principal), MEMBER_MANAGERS)
      const updated = await updateProjectMemberRole(w, project.id, input.wallet_address, input.role)
      if (!updated) throw notFound(`${input.wallet_address} is not a member of project ${project.id}`)
      return { data: toProjectMemberView(project.id, updated), message: 'Member role updated' }
    },
  }),

  route({
    method: 'DELETE', path: '/v1/projects/:id/members', access: 'wallet',
    summary: 'Removes a member (project admin); any member may remove itself.',
    input: memberTarget,
    async handle({ w, principal, input }) {
      const wallet = walletOf(principal)
      const { project } = await requireProjectAccess(w, input.id, wallet, input.wallet_address === wallet ? READERS : MEMBER_MANAGERS)
      const removed = await deleteProjectMember(w, project.id, input.wallet_address)
      if (!removed) throw notFound(`${input.wallet_address} is not a member of project ${project.id}`)
      return { data: toProjectMemberView(project.id, removed), message: 'Member removed from project' }
    },
  }),

  // ---- products ----

  route({
    method: 'GET', path: '/v1/projects/:id/products', access: 'wallet',
    summary: 'Ids of the products the project uses: those it enabled that its organization has enabled on chain (any role).',
    input: projectPath,
    async handle({ w, principal, input }) {
      const { project, org } = await requireProjectAccess(w, input.id, walletOf(principal), READERS)
      const products = await usableProducts(w, project.id, org.address)
      return { data: { product_ids: products.map((p) => p.id) }, message: 'Project products fetched successfully' }
    },
  }),

  route({
    method: 'GET', path: '/v1/projects/:id/price-per-call', access: 'wallet',
    summary: 'The sum of the current prices of the products the project uses (tUSDT base units, decimal string; any role).',
    input: projectPath,
    async handle({ w, principal, input }) {
      const { project, org } = await requireProjectAccess(w, input.id, walletOf(principal), READERS)
      const products = await usableProducts(w, project.id, org.address)
      const total = products.reduce((sum, p) => sum + p.price, 0n)
      return { data: { total_price_per_call: total.toString(), product_ids: products.map((p) => p.id) }, message: 'Total price per call calculated' }
    },
  }),
]
