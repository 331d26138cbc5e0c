/**
 * Organizations (v1's /orgs routes, /me/orgs and the model catalogue). The organization and its
 * owner are on chain (read from the index); display name, archiving, members and model
 * enrolment are application state.
 *
 * Archiving (DELETE /orgs/:id) hides the organization from lists and makes its id, and its
 * projects' ids, answer 410 Gone to whoever has a role in it (403 to anyone else, as for any
 * organization). It cannot be undone through the API: the organization stays on chain.
 *
 * Members: the owner is whoever owns the contract and is never a member row. The owner manages
 * everyone; an admin manages plain members only (only the owner grants, changes or revokes the
 * admin role); anyone may leave (remove themselves).
 */
import { z } from 'zod'
import type { Hash } from 'viem'
import { requireOrgRole, type OrgRole } from '../access/roles.js'
import type { WriteContext } from '../context.js'
import { badRequest, conflict, forbidden, notFound, WriteError } from '../http/errors.js'
import { address, displayName, id } from '../http/inputs.js'
import { route, type WriteRoute, walletOf } from '../http/route.js'
import { projectsOfOrganization } from '../projects/queries.js'
import { toProjectView } from '../projects/views.js'
import { findCreatedOrganization } from './created-org.js'
import {
  deleteOrgMember, enrollModel, enrolledModels, findModel, findOrgMember, insertOrgMember, listModels, listOrgMembers, organizationByAddress,
  organizationFunds, organizationsOf, projectsDefaultingTo, rememberOrganization, setOrganizationSettings, unenrollModel, unsettledCharges,
  updateOrgMemberRole,
} from './queries.js'
import { toModelView, toOrganizationView, toOrgMemberView, type OrganizationView } from './views.js'

/** v1 enrolled its free model for every organization it saw; so does the first POST /orgs. */
const DEFAULT_MODEL_ID = 1

const READERS: readonly OrgRole[] = ['owner', 'admin', 'member']
const MANAGERS: readonly OrgRole[] = ['owner', 'admin']

const txHash = z
  .string({ error: 'must be a 0x-prefixed 32-byte transaction hash' })
  .trim()
  .regex(/^0x[0-9a-fA-F]{64}$/, 'must be a 0x-prefixed 32-byte transaction hash')
  .transform((h) => h.toLowerCase() as Hash)
const onchainName = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters')
const memberRole = z.enum(['admin', 'member'], { error: 'must be admin or member' })
const orgPath = z.object({ id })
const memberTarget = z.object({ id, wallet_address: address })
const modelTarget = z.object({ id, model_id: id })

async function orgView(w: Pick<WriteContext, 'db' | 'chain'>, address: string, role?: OrgRole): Promise<OrganizationView> {
  const row = await organizationByAddress(w, address)
  if (!row) throw notFound(`organization ${address} is not indexed`)
  return toOrganizationView(row, role)
}

export const organizationRoutes: WriteRoute[] = [
  route({
    method: 'GET', path: '/v1/models', access: 'public',
    summary: 'The model catalogue: id, name, display name, provider, whether active, price per call (tUSDT base units).',
    async handle({ w }) {
      return { data: (await listModels(w)).map(toModelView), message: 'Models fetched' }
    },
  }),

  route({
    method: 'GET', path: '/v1/me/orgs', access: 'wallet',
    summary: 'Organizations the caller owns on chain or is a member of, with its role (archived ones left out).',
    async handle({ w, principal }) {
      const wallet = walletOf(principal)
      const orgs = await organizationsOf(w, wallet)
      return { data: orgs.map(({ row, role }) => toOrganizationView(row, role)), message: 'Organizations fetched' }
    },
  }),

  route({
    method: 'POST', path: '/v1/orgs', access: 'wallet',
    summary:
      'After the wallet called createOrganization on chain: the organization, once indexed (tx_hash: that transaction; name: its name; '
      + 'neither: the newest the caller owns). 202 with status pending if the index has not reached it within the wait.',
    input: z.object({ tx_hash: txHash.optional(), name: onchainName.optional() }),
    async handle({ w, principal, input }) {
      const wallet = walletOf(principal)
      const found = await findCreatedOrganization(w, wallet, input)
      if (found.kind === 'pending') {
        return {
          status: 202,
          data: { status: 'pending', tx_hash: found.tx_hash, block_number: found.block_number },
          message: found.block_number === null
            ? 'the transaction is not mined yet; ask again once it is'
            : `the index has not reached block ${found.block_number} yet; ask again shortly`,
        }
      }
      const { row } = found
      if (row.archived_at) throw new WriteError(410, `organization ${Number(row.index) + 1} was archived on ${row.archived_at.toISOString()}`, 'archived')
      await rememberOrganization(w, row.address, DEFAULT_MODEL_ID)
      return { data: toOrganizationView(row, 'owner'), message: 'Organization found' }
    },
  }),

  route({
    method: 'GET', path: '/v1/orgs/:id', access: 'wallet',
    summary: 'One organization (any member).', input: orgPath,
    async handle({ w, principal, input }) {
      const { org, role } = await requireOrgRole(w, input.id, walletOf(principal), READERS)
      return { data: await orgView(w, org.address, role), message: 'Organization retrieved' }
    },
  }),

  route({
    method: 'PATCH', path: '/v1/orgs/:id', access: 'wallet',
    summary: 'Sets the display name (owner). The name on chain does not change.',
    input: z.strictObject({ id, name: displayName }),
    async handle({ w, principal, input }) {
      const { org } = await requireOrgRole(w, input.id, walletOf(principal), ['owner'])
      await setOrganizationSettings(w, org.address, { display_name: input.name })
      return { data: await orgView(w, org.address, 'owner'), message: 'Organization updated' }
    },
  }),

  route({
    method: 'DELETE', path: '/v1/orgs/:id', access: 'wallet',
    summary: 'Archives the organization (owner): it leaves every list and its ids answer 410. It stays on chain.',
    input: orgPath,
    async handle({ w, principal, input }) {
      const { org } = await requireOrgRole(w, input.id, walletOf(principal), ['owner'])
      const archivedAt = w.now()
      await setOrganizationSettings(w, org.address, { archived_at: archivedAt })
      return { data: { ...(await orgView(w, org.address, 'owner')), archived_at: archivedAt.toISOString() }, message: 'Organization archived' }
    },
  }),

  route({
    method: 'GET', path: '/v1/orgs/:id/projects', access: 'wallet',
    summary: 'The organization\'s projects (any member).', input: orgPath,
    async handle({ w, principal, input }) {
      const { org } = await requireOrgRole(w, input.id, walletOf(principal), READERS)
      return { data: (await projectsOfOrganization(w, org.address)).map((row) => toProjectView(row)), message: 'Organization projects retrieved' }
    },
  }),

  // ---- members ----

  route({
    method: 'GET', path: '/v1/orgs/:id/members', access: 'wallet',
    summary: 'Members besides the on-chain owner (any member).', input: orgPath,
    async handle({ w, principal, input }) {
      const { org } = await requireOrgRole(w, input.id, walletOf(principal), READERS)
      return { data: (await listOrgMembers(w, org.address)).map((m) => toOrgMemberView(org.id, m)), message: 'Organization members retrieved' }
    },
  }),

  route({
    method: 'POST', path: '/v1/orgs/:id/members', access: 'wallet',
    summary: 'Adds a member (owner or admin; only the owner adds admins).',
    input: memberTarget.extend({ role: memberRole }),
    async handle({ w, principal, input }) {
      const { org, role } = await requireOrgRole(w, input.id, walletOf(principal), MANAGERS)
      if (input.wallet_address === org.owner) throw conflict(`${input.wallet_address} owns the organization on chain; the owner needs no membership`)
      if (input.role === 'admin' && role !== 'owner') throw forbidden('only the owner adds admins')
      const added = await insertOrgMember(w, org.address, input.wallet_address, input.role)
      if (!added) {
        const existing = await findOrgMember(w, org.address, input.wallet_address)
        throw conflict(`${input.wallet_address} already is a member (${existing?.role ?? 'member'}); change the role with PATCH`)
      }
      return { status: 201, data: toOrgMemberView(org.id, added), message: 'Member added to organization' }
    },
  }),

  route({
    method: 'PATCH', path: '/v1/orgs/:id/members', access: 'wallet',
    summary: 'Changes a member\'s role (owner or admin; only the owner changes admins or grants admin).',
    input: memberTarget.extend({ role: memberRole }),
    async handle({ w, principal, input }) {
      const wallet = walletOf(principal)
      const { org, role } = await requireOrgRole(w, input.id, wallet, MANAGERS)
      if (input.wallet_address === org.owner) throw forbidden('the owner\'s role comes from the chain and cannot be changed here')
      const target = await findOrgMember(w, org.address, input.wallet_address)
      if (!target) throw notFound(`${input.wallet_address} is not a member of organization ${org.id}`)
      // An admin manages plain members, and may step down itself.
      const stepsDown = input.wallet_address === wallet && input.role === 'member'
      if (role !== 'owner' && !stepsDown && (target.role === 'admin' || input.role === 'admin')) throw forbidden('only the owner grants or changes the admin role')
      const updated = await updateOrgMemberRole(w, org.address, input.wallet_address, input.role)
      if (!updated) throw notFound(`${input.wallet_address} is not a member of organization ${org.id}`)
      return { data: toOrgMemberView(org.id, updated), message: 'Member role updated' }
    },
  }),

  route({
    method: 'DELETE', path: '/v1/orgs/:id/members', access: 'wallet',
    summary: 'Removes a member (owner or admin; only the owner removes admins); any member may remove itself.',
    input: memberTarget,
    async handle({ w, principal, input }) {
      const wallet = walletOf(principal)
      const leaving = input.wallet_address === wallet
      const { org, role } = await requireOrgRole(w, input.id, wallet, leaving ? READERS : MANAGERS)
      if (input.wallet_address === org.owner) throw forbidden('the owner cannot be removed; ownership is on chain')
      const target = await findOrgMember(w, org.address, input.wallet_address)
      if (!target) throw notFound(`${input.wallet_address} is not a member of organization ${org.id}`)
      if (!leaving && target.role === 'admin' && role !== 'owner') throw forbidden('only the owner removes admins')
      const removed = await deleteOrgMember(w, org.address, input.wallet_address)
      if (!removed) throw notFound(`${input.wallet_address} is not a member of organization ${org.id}`)
      return { data: toOrgMemberView(org.id, removed), message: 'Member removed from organization' }
    },
  }),

  // ---- models ----

  route({
    method: 'GET', path: '/v1/orgs/:id/models', access: 'wallet',
    summary: 'Models the organization enrolled (any member).', input: orgPath,
    async handle({ w, principal, input }) {
      const { org } = await requireOrgRole(w, input.id, walletOf(principal), READERS)
      const models = await enrolledModels(w, org.address)
      return { data: models.map((m) => ({ ...toModelView(m), enrolled_at: m.enrolled_at.toISOString() })), message: 'Models fetched' }
    },
  }),

  route({
    method: 'POST', path: '/v1/orgs/:id/models', access: 'wallet',
    summary: 'Enrols an active model of the catalogue (owner or admin); enrolling it again changes nothing.',
    input: modelTarget,
    async handle({ w, principal, input }) {
      const { org } = await requireOrgRole(w, input.id, walletOf(principal), MANAGERS)
      const model = await findModel(w, input.model_id)
      if (!model) throw notFound(`model ${input.model_id} does not exist (GET /api/v1/models lists them)`)
      if (!model.is_active) throw badRequest(`model ${input.model_id} (${model.name}) is not active`)
      await enrollModel(w, org.address, model.id)
      return { data: toModelView(model), message: 'Models enrolled' }
    },
  }),

  route({
    method: 'DELETE', path: '/v1/orgs/:id/models', access: 'wallet',
    summary: 'Withdraws a model (owner or admin); refused while a project uses it as its default model.',
    input: modelTarget,
    async handle({ w, principal, input }) {
      const { org } = await requireOrgRole(w, input.id, walletOf(principal), MANAGERS)
      const using = await projectsDefaultingTo(w, org.address, input.model_id)
      if (using.length > 0) throw conflict(`project(s) ${using.join(', ')} use model ${input.model_id} as their default; change their default_model_id first`)
      if (!(await unenrollModel(w, org.address, input.model_id))) throw notFound(`model ${input.model_id} is not enrolled in organization ${org.id}`)
      return { data: { id: org.id, model_id: input.model_id }, message: 'Models unregistered' }
    },
  }),

  // ---- money ----

  route({
    method: 'GET', path: '/v1/orgs/:id/balance', access: 'wallet',
    summary: 'The organization\'s tUSDT balance (base units, decimal string) as indexed (owner or admin).', input: orgPath,
    async handle({ w, principal, input }) {
      const { org } = await requireOrgRole(w, input.id, walletOf(principal), MANAGERS)
      const funds = await organizationFunds(w, org.address)
      return { data: { balance: funds.balance.toString(), deposited: funds.deposited.toString(), address: org.address }, message: 'Organization balance fetched' }
    },
  }),

  route({
    method: 'GET', path: '/v1/orgs/:id/expenditure', access: 'wallet',
    summary: 'What the organization spent: settled on chain plus charges not yet settled (owner or admin).', input: orgPath,
    async handle({ w, principal, input }) {
      const { org } = await requireOrgRole(w, input.id, walletOf(principal), MANAGERS)
      const [funds, unsettled] = await Promise.all([organizationFunds(w, org.address), unsettledCharges(w, org.address)])
      return {
        data: { expenditure: (funds.spent + unsettled).toString(), settled: funds.spent.toString(), unsettled: unsettled.toString() },
        message: 'Organization expenditure fetched',
      }
    },
  }),
]

