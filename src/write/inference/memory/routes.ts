/**
 * v1's `/v1beta/chat/conversations` routes: the caller's conversations and their messages. A
 * caller (session, `sk-` wallet key or scoped key) sees only the conversations its wallet
 * started, a scoped key only those of its project; anyone else's id answers 404 like an unknown
 * one, so ids reveal nothing.
 *
 * Paging: conversations come most recently active first; `before` is the id of the last
 * conversation of the previous page. Messages come oldest first; `after` is the id of the last
 * message of the previous page.
 */
import { z } from 'zod'
import type { Principal } from '../../auth/principal.js'
import { archivedAtOf, findOrganizationByAddress, findProject, projectAccessOf } from '../../access/roles.js'
import type { WriteContext } from '../../context.js'
import { WriteError, badRequest, forbidden, notFound } from '../../http/errors.js'
import { id as positiveId } from '../../http/inputs.js'
import { route, type WriteRoute, walletOf } from '../../http/route.js'
import { conversationExists, deleteConversation, findConversation, insertConversation, listConversations, listMessages, renameConversation, type ConversationView, type Viewer } from './queries.js'
import { appendMemory, isUuid } from './store.js'

/** Roles that may call inference in a project (v1): organization owner/admin (project admin for them), project admin/developer. */
const CALLING_ROLES: ReadonlySet<string> = new Set(['admin', 'developer'])
const MAX_SEEDED_MESSAGES = 500

const conversationId = z
  .string({ error: 'is required' })
  .trim()
  .refine(isUuid, 'is not a conversation id: conversation ids are UUIDs (as POST /api/v1beta/chat/conversations answers them)')
  .transform((s) => s.toLowerCase())

/** 1..max, default `fallback`. */
const limit = (max: number, fallback: number) =>
  z.coerce.number({ error: `must be a whole number from 1 to ${max}` }).int(`must be a whole number from 1 to ${max}`)
    .min(1, `must be a whole number from 1 to ${max}`).max(max, `must be a whole number from 1 to ${max}`).default(fallback)

/** A title: trimmed, at most 200 characters; empty or null clears it. */
const title = z.union([z.null(), z.string().trim().max(200, 'must be at most 200 characters')], { error: 'must be a string of at most 200 characters, or null' })
  .transform((t) => (t ? t : null))

/** An OpenAI chat message, kept as sent (other fields such as tool_calls, tool_call_id and name included). */
const chatMessage = z.looseObject({
  role: z.enum(['system', 'user', 'assistant', 'tool'], { error: 'must be system, user, assistant or tool' }),
  content: z.union([z.string(), z.array(z.unknown()), z.null()], { error: 'must be a string, an array of content parts, or null' }),
})

const byId = z.object({ id: conversationId })

function viewerOf(principal: Principal): Viewer {
  return { wallet: walletOf(principal), projectId: principal.kind === 'scopedKey' ? String(principal.projectId) : null }
}

async function visibleConversation(w: Pick<WriteContext, 'db' | 'chain'>, viewer: Viewer, id: string): Promise<ConversationView> {
  const conversation = await findConversation(w, viewer, id)
  if (!conversation) throw notFound(`conversation ${id} does not exist`)
  return conversation
}

/**
 * The project a new conversation goes in, if the caller may call inference there: a scoped key
 * only in its own project and with role admin or developer; a wallet as organization owner or
 * admin, or as project admin or developer.
 */
async function requireCallingAccess(w: Pick<WriteContext, 'db' | 'chain'>, principal: Principal, projectId: number): Promise<string> {
  const project = await findProject(w, projectId)
  if (!project) throw notFound(`project ${projectId} does not exist`)
  if (principal.kind === 'scopedKey') {
    if (String(principal.projectId) !== project.id) throw forbidden('this API key belongs to another project')
    if (!CALLING_ROLES.has(principal.role)) throw forbidden(`this API key has the project role ${principal.role}; conversations need admin or developer`)
  } else {
    const access = await projectAccessOf(w, project, walletOf(principal))
    if (access.orgRole === null && access.projectRole === null) throw forbidden(`you are not a member of project ${projectId}`)
    if (access.projectRole === null || !CALLING_ROLES.has(access.projectRole)) {
      throw forbidden(`conversations need the role organization owner or admin, or project admin or developer; you are ${access.projectRole ?? `organization ${access.orgRole ?? 'outsider'}`}`)
    }
  }
  const org = await findOrganizationByAddress(w, project.organization)
  const archivedAt = org ? await archivedAtOf(w, org) : null
  if (archivedAt) throw new WriteError(410, `the organization of project ${projectId} was archived on ${archivedAt.toISOString()}`, 'archived')
  return project.id
}

export const conversationRoutes: WriteRoute[] = [
  route({
    method: 'GET', path: '/v1beta/chat/conversations', access: 'key',
    summary: 'The caller\'s conversations, most recently active first: optional project_id, limit (1-100, default 20), before (the id of the last conversation of the previous page).',
    input: z.object({ project_id: positiveId.optional(), limit: limit(100, 20), before: conversationId.optional() }),
    async handle({ w, principal, input }) {
      const viewer = viewerOf(principal)
      if (input.before !== undefined && !(await conversationExists(w, viewer, input.before))) {
        throw badRequest(`before: ${input.before} is not one of your conversations; pass the id of the last conversation of the previous page`)
      }
      const conversations = await listConversations(w, viewer, {
        limit: input.limit,
        ...(input.project_id !== undefined ? { projectId: String(input.project_id) } : {}),
        ...(input.before !== undefined ? { before: input.before } : {}),
      })
      return { data: conversations, message: 'Conversations fetched' }
    },
  }),

  route({
    method: 'POST', path: '/v1beta/chat/conversations', access: 'key',
    summary: 'Starts a conversation in a project the caller may call inference in (organization owner or admin, project admin or developer).',
    input: z.object({ project_id: positiveId, title: title.optional() }),
    async handle({ w, principal, input }) {
      const projectId = await requireCallingAccess(w, principal, input.project_id)
      const viewer = viewerOf(principal)
      const id = await insertConversation(w, { projectId, wallet: viewer.wallet, title: input.title ?? null })
      return { status: 201, data: await visibleConversation(w, viewer, id), message: 'Conversation created' }
    },
  }),

  route({
    method: 'GET', path: '/v1beta/chat/conversations/:id', access: 'key',
    summary: 'One of the caller\'s conversations.', input: byId,
    async handle({ w, principal, input }) {
      return { data: await visibleConversation(w, viewerOf(principal), input.id), message: 'Conversation fetched' }
    },
  }),

  route({
    method: 'PATCH', path: '/v1beta/chat/conversations/:id', access: 'key',
    summary: 'Renames one of the caller\'s conversations (an empty or null title clears it).',
    input: z.object({ id: conversationId, title }),
    async handle({ w, principal, input }) {
      const viewer = viewerOf(principal)
      if (!(await renameConversation(w, viewer, input.id, input.title))) throw notFound(`conversation ${input.id} does not exist`)
      return { data: await visibleConversation(w, viewer, input.id), message: 'Conversation renamed' }
    },
  }),

  route({
    method: 'DELETE', path: '/v1beta/chat/conversations/:id', access: 'key',
    summary: 'Deletes one of the caller\'s conversations (its memory is no longer used; its external id may name a new one).', input: byId,
    async handle({ w, principal, input }) {
      if (!(await deleteConversation(w, viewerOf(principal), input.id))) throw notFound(`conversation ${input.id} does not exist`)
      return { data: { id: input.id, deleted: true }, message: 'Conversation deleted' }
    },
  }),

  route({
    method: 'GET', path: '/v1beta/chat/conversations/:id/messages', access: 'key',
    summary: 'The messages of one of the caller\'s conversations, oldest first: limit (1-500, default 100), after (the id of the last message of the previous page).',
    input: z.object({ id: conversationId, limit: limit(500, 100), after: positiveId.optional() }),
    async handle({ w, principal, input }) {
      if (!(await conversationExists(w, viewerOf(principal), input.id))) throw notFound(`conversation ${input.id} does not exist`)
      const messages = await listMessages(w, input.id, { limit: input.limit, ...(input.after !== undefined ? { after: input.after } : {}) })
      return { data: messages, message: 'Messages fetched' }
    },
  }),

  route({
    method: 'POST', path: '/v1beta/chat/conversations/:id/messages', access: 'key',
    summary: `Seeds one of the caller's conversations: appends { messages: [OpenAI chat messages] } (1 to ${MAX_SEEDED_MESSAGES}) in order.`,
    input: z.object({
      id: conversationId,
      messages: z.array(chatMessage, { error: 'must be an array of chat messages' })
        .min(1, 'must hold at least one message').max(MAX_SEEDED_MESSAGES, `must hold at most ${MAX_SEEDED_MESSAGES} messages`),
    }),
    async handle({ w, principal, input }) {
      const viewer = viewerOf(principal)
      if (!(await conversationExists(w, viewer, input.id))) throw notFound(`conversation ${input.id} does not exist`)
      await appendMemory(w, input.id, input.messages)
      return { status: 201, data: await visibleConversation(w, viewer, input.id), message: 'Messages added' }
    },
  }),
]
