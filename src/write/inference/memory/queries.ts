/**
 * What the conversation routes read and write. Every query is bounded to what the caller may
 * see (`Viewer`): its wallet's conversations on this chain, not deleted, and for a scoped key
 * only those of the key's project.
 */
import { randomUUID } from 'node:crypto'
import { sql, type SelectQueryBuilder } from 'kysely'
import type { Database } from '../../../db/index.js'
import type { WriteContext } from '../../context.js'

type Store = Pick<WriteContext, 'db' | 'chain'>

export interface Viewer {
  /** Lowercased. */
  wallet: string
  /** A scoped key's project: the key sees nothing else. */
  projectId: string | null
}

export interface ConversationView {
  id: string
  project_id: number
  title: string | null
  external_id: string | null
  created_at: string
  updated_at: string
  /** How many messages it keeps. */
  messages: number
}

export interface MemoryMessageView {
  id: number
  role: string
  message: unknown
  created_at: string
}

type ConversationQuery = SelectQueryBuilder<Database, 'app.conversations', object>

function visibleTo(w: Store, viewer: Viewer): ConversationQuery {
  let query = w.db
    .selectFrom('app.conversations')
    .where('app.conversations.chain_id', '=', w.chain.chainId)
    .where('app.conversations.wallet', '=', viewer.wallet)
    .where('app.conversations.deleted_at', 'is', null)
  if (viewer.projectId !== null) query = query.where('app.conversations.project_id', '=', viewer.projectId)
  return query
}

function withCount(query: ConversationQuery) {
  return query.select((eb) => [
    'app.conversations.id', 'app.conversations.project_id', 'app.conversations.title', 'app.conversations.external_id',
    'app.conversations.created_at', 'app.conversations.updated_at',
    eb.selectFrom('app.memory_messages').select(eb.fn.countAll().as('n')).whereRef('app.memory_messages.conversation_id', '=', 'app.conversations.id').as('messages'),
  ])
}

interface ConversationRow {
  id: string
  project_id: string | bigint
  title: string | null
  external_id: string | null
  created_at: Date
  updated_at: Date
  messages: string | number | bigint | null
}

function toView(row: ConversationRow): ConversationView {
  return {
    id: row.id,
    project_id: Number(row.project_id),
    title: row.title,
    external_id: row.external_id,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    messages: Number(row.messages ?? 0),
  }
}

export async function findConversation(w: Store, viewer: Viewer, id: string): Promise<ConversationView | undefined> {
  const row = await withCount(visibleTo(w, viewer).where('app.conversations.id', '=', id)).executeTakeFirst()
  return row && toView(row)
}

export async function conversationExists(w: Store, viewer: Viewer, id: string): Promise<boolean> {
  const row = await visibleTo(w, viewer).select('app.conversations.id').where('app.conversations.id', '=', id).executeTakeFirst()
  return row !== undefined
}

/**
 * The viewer's conversations, most recently active first (then by id, so the order is total).
 * `before`: the id of the last conversation of the previous page.
 */
export async function listConversations(
  w: Store, viewer: Viewer, options: { projectId?: string; limit: number; before?: string },
): Promise<ConversationView[]> {
  let query = visibleTo(w, viewer)
  if (options.projectId !== undefined) query = query.where('app.conversations.project_id', '=', options.projectId)
  if (options.before !== undefined) {
    // Compared in SQL: the cursor's updated_at keeps its microseconds, which a JS Date would lose.
    const before = options.before
    query = query.where(
      sql<boolean>`(app.conversations.updated_at, app.conversations.id) < (SELECT cursor.updated_at, cursor.id FROM app.conversations AS cursor WHERE cursor.id = ${before})`,
    )
  }
  const rows = await withCount(query)
    .orderBy('app.conversations.updated_at', 'desc')
    .orderBy('app.conversations.id', 'desc')
    .limit(options.limit)
    .execute()
  return rows.map(toView)
}

export async function insertConversation(w: Store, input: { projectId: string; wallet: string; title: string | null }): Promise<string> {
  const row = await w.db
    .insertInto('app.conversations')
    .values({ id: randomUUID(), chain_id: w.chain.chainId, project_id: input.projectId, wallet: input.wallet, title: input.title })
    .returning('id')
    .executeTakeFirstOrThrow()
  return row.id
}

/** Changes the viewer's conversation (not deleted); false when it sees no such conversation. */
async function updateOwn(w: Store, viewer: Viewer, id: string, change: { title: string | null } | { deleted_at: Date }): Promise<boolean> {
  let query = w.db
    .updateTable('app.conversations')
    .set({ ...change, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('chain_id', '=', w.chain.chainId)
    .where('wallet', '=', viewer.wallet)
    .where('deleted_at', 'is', null)
  if (viewer.projectId !== null) query = query.where('project_id', '=', viewer.projectId)
  const result = await query.executeTakeFirst()
  return result.numUpdatedRows > 0n
}

export const renameConversation = (w: Store, viewer: Viewer, id: string, title: string | null) => updateOwn(w, viewer, id, { title })

/** Soft delete: the rows stay, the conversation is gone for its wallet and its external id is free again. */
export const deleteConversation = (w: Store, viewer: Viewer, id: string) => updateOwn(w, viewer, id, { deleted_at: new Date() })

export async function listMessages(w: Store, conversationId: string, options: { limit: number; after?: number }): Promise<MemoryMessageView[]> {
  let query = w.db
    .selectFrom('app.memory_messages')
    .select(['id', 'role', 'message', 'created_at'])
    .where('conversation_id', '=', conversationId)
  if (options.after !== undefined) query = query.where('id', '>', String(options.after))
  const rows = await query.orderBy('id', 'asc').limit(options.limit).execute()
  return rows.map((r) => ({ id: Number(r.id), role: r.role, message: r.message, created_at: r.created_at.toISOString() }))
}
