/**
 * Conversation memory in the database (app.conversations, app.memory_messages), so a
 * conversation survives restarts and is shared by every replica. A conversation belongs to one
 * project and the wallet that started it; the client names it by its id (a UUID) or by an id of
 * its own (`Haithe-Conversation` header or the request's `user` field), kept as `external_id`.
 */
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { WriteContext } from '../../context.js'
import { uuid } from '../../http/inputs.js'

type Store = Pick<WriteContext, 'db' | 'chain'>

export const MAX_CONVERSATION_REFERENCE_LENGTH = 200

export const isUuid = (value: string): boolean => value.trim() === value && uuid.safeParse(value).success

/** The conversation named by the client is another project's or another wallet's. */
export class ConversationAccessError extends Error {
  override readonly name = 'ConversationAccessError'
  constructor(reference: string) {
    super(`conversation ${reference} belongs to another project or wallet: start a new conversation (send another Haithe-Conversation value or none)`)
  }
}

/** The conversation reference is empty or too long to be one. */
export class ConversationReferenceError extends Error {
  override readonly name = 'ConversationReferenceError'
  constructor(length: number) {
    super(length === 0
      ? 'the conversation reference is empty: send a conversation id or a name of your own (1 to 200 characters) in Haithe-Conversation or `user`'
      : `the conversation reference is ${length} characters long: use at most ${MAX_CONVERSATION_REFERENCE_LENGTH}`)
  }
}

export interface ConversationRequest {
  projectId: string
  /** Lowercased. */
  wallet: string
  /** What the client sent: the Haithe-Conversation header or the request's `user` field. */
  reference: string
}

/**
 * The conversation a request continues: the caller's own conversation when `reference` is its id,
 * else the project's conversation with that external id (created on first use). An external id
 * already taken in the project by another wallet is refused rather than shared: memory would
 * otherwise leak one wallet's messages into another's calls.
 */
export async function resolveConversation(w: Store, input: ConversationRequest): Promise<{ id: string; created: boolean }> {
  const { projectId, wallet, reference } = input
  if (reference.length === 0 || reference.length > MAX_CONVERSATION_REFERENCE_LENGTH) throw new ConversationReferenceError(reference.length)

  if (isUuid(reference)) {
    const byId = await w.db
      .selectFrom('app.conversations')
      .select(['id', 'project_id', 'wallet'])
      .where('id', '=', reference.toLowerCase())
      .where('chain_id', '=', w.chain.chainId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst()
    if (byId) {
      if (String(byId.project_id) !== String(projectId) || byId.wallet !== wallet) throw new ConversationAccessError(reference)
      return { id: byId.id, created: false }
    }
  }

  // A concurrent insert may win the unique index: ours then does nothing and the next select
  // finds its row. A concurrent delete in between makes us insert once more.
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await findByExternalId(w, projectId, reference)
    if (existing) return ownedBy(existing, wallet, reference)
    const inserted = await w.db
      .insertInto('app.conversations')
      .values({ id: randomUUID(), chain_id: w.chain.chainId, project_id: String(projectId), wallet, external_id: reference })
      .onConflict((oc) => oc.columns(['project_id', 'external_id']).where('external_id', 'is not', null).where('deleted_at', 'is', null).doNothing())
      .returning('id')
      .executeTakeFirst()
    if (inserted) return { id: inserted.id, created: true }
  }
  throw new Error(`conversation ${reference} of project ${projectId} could neither be found nor created (concurrent deletes?)`)
}

async function findByExternalId(w: Store, projectId: string, externalId: string): Promise<{ id: string; wallet: string } | undefined> {
  return w.db
    .selectFrom('app.conversations')
    .select(['id', 'wallet'])
    .where('project_id', '=', String(projectId))
    .where('external_id', '=', externalId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst()
}

function ownedBy(row: { id: string; wallet: string }, wallet: string, reference: string): { id: string; created: boolean } {
  if (row.wallet !== wallet) throw new ConversationAccessError(reference)
  return { id: row.id, created: false }
}

const roleOf = (message: unknown): string | undefined =>
  message !== null && typeof message === 'object' && typeof (message as { role?: unknown }).role === 'string' ? (message as { role: string }).role : undefined

/**
 * The last `window` messages of the conversation, oldest first. A window never opens with tool
 * results: their assistant message (with its tool_calls) fell outside it, and providers refuse
 * tool messages that answer no call.
 */
export async function loadMemory(w: Store, conversationId: string, window: number): Promise<unknown[]> {
  if (window <= 0) return []
  const rows = await w.db
    .selectFrom('app.memory_messages')
    .select('message')
    .where('conversation_id', '=', conversationId)
    .orderBy('id', 'desc')
    .limit(Math.floor(window))
    .execute()
  const messages = rows.map((r) => r.message).reverse()
  let start = 0
  while (start < messages.length && roleOf(messages[start]) === 'tool') start++
  return messages.slice(start)
}

/** Appends messages in order (one insert) and marks the conversation as active now. */
export async function appendMemory(w: Store, conversationId: string, messages: unknown[]): Promise<void> {
  if (messages.length === 0) return
  await w.db.transaction().execute(async (tx) => {
    await tx
      .insertInto('app.memory_messages')
      .values(messages.map((message) => ({ conversation_id: conversationId, role: roleOf(message) ?? 'unknown', message: JSON.stringify(message) })))
      .execute()
    await tx.updateTable('app.conversations').set({ updated_at: sql<Date>`now()` }).where('id', '=', conversationId).execute()
  })
}

/** The messages of a request that memory keeps: all but system and developer messages, which each call sends anew. */
export function newMessagesOf(requestMessages: unknown[]): unknown[] {
  return requestMessages.filter((m) => {
    const role = roleOf(m)
    return role !== 'system' && role !== 'developer'
  })
}
