/**
 * Scoped API keys, `sk-proj-<43 base64url characters>` (32 random bytes): each acts for one
 * project (and so one organization) with a role and an optional monthly spend limit. Shown once,
 * stored as a digest, revocable, with a last-used time. A key works while its project exists
 * and the wallet that issued it still administers the project.
 */
import { randomBytes } from 'node:crypto'
import type { Address } from 'viem'
import type { ProjectRole } from '../../db/index.js'
import { findProject, projectAccessOf, type ProjectRef } from '../access/roles.js'
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'
import { keyDigest, keyHint, markKeyUsed } from './key-digest.js'
import type { Principal } from './principal.js'

export const SCOPED_KEY_PREFIX = 'sk-proj-'
const SCOPED_KEY = /^sk-proj-[A-Za-z0-9_-]{43}$/

/** Active keys a project may have at once. */
export const MAX_ACTIVE_KEYS_PER_PROJECT = 100

export function isScopedKeyShape(key: string): boolean {
  return key.startsWith(SCOPED_KEY_PREFIX)
}

export interface ScopedKeyView {
  id: number
  name: string | null
  role: ProjectRole
  /** tUSDT base units a month, a decimal string; null for no limit. */
  monthly_limit: string | null
  hint: string
  created_at: Date
  last_used_at: Date | null
  revoked_at: Date | null
}

type Db = Pick<WriteContext, 'db' | 'chain' | 'now'>

const columns = ['id', 'name', 'role', 'monthly_limit', 'hint', 'created_at', 'last_used_at', 'revoked_at'] as const

function view(row: { id: string; name: string | null; role: ProjectRole | null; monthly_limit: string | null; hint: string; created_at: Date; last_used_at: Date | null; revoked_at: Date | null }): ScopedKeyView {
  return { ...row, id: Number(row.id), role: row.role!, monthly_limit: row.monthly_limit === null ? null : String(row.monthly_limit) }
}

export async function createScopedKey(
  w: Db, project: ProjectRef, issuer: Address, spec: { name?: string; role: ProjectRole; monthlyLimit?: string },
): Promise<ScopedKeyView & { key: string }> {
  const active = await w.db
    .selectFrom('app.api_keys')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('kind', '=', 'scoped')
    .where('project_id', '=', project.id)
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow()
  if (Number(active.n) >= MAX_ACTIVE_KEYS_PER_PROJECT) {
    throw new WriteError(400, `project ${project.id} already has ${MAX_ACTIVE_KEYS_PER_PROJECT} active keys; revoke some first`)
  }
  const key = `${SCOPED_KEY_PREFIX}${randomBytes(32).toString('base64url')}`
  const row = await w.db
    .insertInto('app.api_keys')
    .values({
      kind: 'scoped', address: issuer, key_hash: keyDigest(key), hint: keyHint(key), name: spec.name ?? null,
      chain_id: w.chain.chainId, organization: project.organization, project_id: project.id, role: spec.role,
      monthly_limit: spec.monthlyLimit ?? null, created_at: w.now(),
    })
    .returning(columns)
    .executeTakeFirstOrThrow()
  return { ...view(row), key }
}

export async function listScopedKeys(w: Db, project: ProjectRef): Promise<ScopedKeyView[]> {
  const rows = await w.db
    .selectFrom('app.api_keys')
    .select(columns)
    .where('kind', '=', 'scoped')
    .where('project_id', '=', project.id)
    .orderBy('id')
    .execute()
  return rows.map(view)
}

/** Revokes key `keyId` of the project (again: no change); 404 if the project has no such key. */
export async function revokeScopedKey(w: Db, project: ProjectRef, keyId: number): Promise<ScopedKeyView> {
  const key = String(keyId)
  await w.db
    .updateTable('app.api_keys')
    .set({ revoked_at: w.now() })
    .where('id', '=', key)
    .where('kind', '=', 'scoped')
    .where('project_id', '=', project.id)
    .where('revoked_at', 'is', null)
    .execute()
  const row = await w.db
    .selectFrom('app.api_keys')
    .select(columns)
    .where('id', '=', key)
    .where('kind', '=', 'scoped')
    .where('project_id', '=', project.id)
    .executeTakeFirst()
  if (!row) throw new WriteError(404, `project ${project.id} has no key ${keyId}`)
  return view(row)
}

export async function verifyScopedKey(w: Db, key: string): Promise<Extract<Principal, { kind: 'scopedKey' }>> {
  if (!SCOPED_KEY.test(key)) throw new WriteError(401, 'the API key is malformed', 'invalid_api_key')
  const row = await w.db
    .selectFrom('app.api_keys')
    .select(['id', 'address', 'chain_id', 'project_id', 'role', 'monthly_limit', 'revoked_at', 'last_used_at'])
    .where('key_hash', '=', keyDigest(key))
    .where('kind', '=', 'scoped')
    .executeTakeFirst()
  if (!row) throw new WriteError(401, 'this API key was not issued by this gateway', 'invalid_api_key')
  if (row.revoked_at) throw new WriteError(401, 'this API key has been revoked', 'api_key_revoked')
  if (row.chain_id !== w.chain.chainId) throw new WriteError(401, `this API key is for chain ${row.chain_id}`, 'invalid_api_key')
  const project = await findProject(w, row.project_id!)
  if (!project) throw new WriteError(401, `the project of this API key (${row.project_id}) has been deleted`, 'api_key_revoked')
  const issuer = row.address as Address
  const access = await projectAccessOf(w, project, issuer)
  if (access.projectRole !== 'admin') {
    throw new WriteError(401, `the wallet that issued this API key no longer administers project ${project.id}; ask a project admin for a new key`, 'api_key_revoked')
  }
  await markKeyUsed(w, row.id, row.last_used_at)
  return {
    kind: 'scopedKey', address: issuer, keyId: row.id, organization: project.organization, projectId: project.id,
    role: row.role!, monthlyLimit: row.monthly_limit === null ? null : BigInt(row.monthly_limit),
  }
}
