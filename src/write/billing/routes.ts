/**
 * GET /v1/orgs/:id/usage: what the organization's inference calls were charged, grouped by
 * project, model, API key or UTC day (owner or admin). Only charged lines count (open
 * reservations and released calls cost nothing); settled or not. Amounts are tUSDT base units as
 * decimal strings; `from` is inclusive, `to` exclusive.
 */
import { sql } from 'kysely'
import { z } from 'zod'
import { requireOrgRole, type OrgRole } from '../access/roles.js'
import type { WriteContext } from '../context.js'
import { badRequest } from '../http/errors.js'
import { id } from '../http/inputs.js'
import { route, type WriteRoute, walletOf } from '../http/route.js'

const MANAGERS: readonly OrgRole[] = ['owner', 'admin']

const instant = z
  .string()
  .trim()
  .refine((s) => /^\d{4}-\d{2}-\d{2}/.test(s) && !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date or date-time (2026-11-01 or 2026-11-01T00:00:00Z)')
  .transform((s) => new Date(s))

const usageInput = z.object({
  id,
  group_by: z.enum(['project', 'model', 'key', 'day'], { error: 'must be project, model, key or day' }).default('project'),
  from: instant.optional(),
  to: instant.optional(),
})

export interface UsageGroupView {
  /** project: the project id; model: the model id; key: the API key id (null: session tokens); day: YYYY-MM-DD (UTC). */
  group: number | string | null
  /** The project's or model's name, the key's name or hint; absent for days. */
  label?: string | null
  amount: string
  calls: number
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
}

interface Totals { amount: string; calls: string; prompt_tokens: string; completion_tokens: string; total_tokens: string }

const totals = [
  sql<string>`coalesce(sum(l.amount), 0)::text`.as('amount'),
  sql<string>`count(*)::text`.as('calls'),
  sql<string>`coalesce(sum(l.prompt_tokens), 0)::text`.as('prompt_tokens'),
  sql<string>`coalesce(sum(l.completion_tokens), 0)::text`.as('completion_tokens'),
  sql<string>`coalesce(sum(l.total_tokens), 0)::text`.as('total_tokens'),
] as const

const view = (group: number | string | null, label: string | null | undefined, t: Totals): UsageGroupView => ({
  group, ...(label !== undefined ? { label } : {}),
  amount: t.amount, calls: Number(t.calls), prompt_tokens: Number(t.prompt_tokens), completion_tokens: Number(t.completion_tokens), total_tokens: Number(t.total_tokens),
})

async function usageOf(
  w: Pick<WriteContext, 'db' | 'chain'>, organization: string, groupBy: 'project' | 'model' | 'key' | 'day', from?: Date, to?: Date,
): Promise<UsageGroupView[]> {
  let lines = w.db
    .selectFrom('app.usage_ledger as l')
    .where('l.chain_id', '=', w.chain.chainId)
    .where('l.organization', '=', organization)
    .where('l.status', '=', 'charged')
  if (from) lines = lines.where('l.created_at', '>=', from)
  if (to) lines = lines.where('l.created_at', '<', to)
  switch (groupBy) {
    case 'project': {
      const rows = await lines
        .innerJoin('app.projects as p', 'p.id', 'l.project_id')
        .select(['l.project_id', 'p.name']).select(totals)
        .groupBy(['l.project_id', 'p.name']).orderBy('l.project_id').execute()
      return rows.map((r) => view(Number(r.project_id), r.name, r))
    }
    case 'model': {
      const rows = await lines
        .innerJoin('app.models as m', 'm.id', 'l.model_id')
        .select(['l.model_id', 'm.name']).select(totals)
        .groupBy(['l.model_id', 'm.name']).orderBy('l.model_id').execute()
      return rows.map((r) => view(r.model_id, r.name, r))
    }
    case 'key': {
      const rows = await lines
        .leftJoin('app.api_keys as k', 'k.id', 'l.api_key_id')
        .select(['l.api_key_id', 'k.name', 'k.hint']).select(totals)
        .groupBy(['l.api_key_id', 'k.name', 'k.hint']).orderBy('l.api_key_id').execute()
      return rows.map((r) => view(r.api_key_id === null ? null : Number(r.api_key_id), r.name ?? r.hint ?? null, r))
    }
    case 'day': {
      const day = sql<string>`to_char(l.created_at at time zone 'UTC', 'YYYY-MM-DD')`
      const rows = await lines.select(day.as('day')).select(totals).groupBy(day).orderBy(day).execute()
      return rows.map((r) => view(r.day, undefined, r))
    }
  }
}

export const usageRoutes: WriteRoute[] = [
  route({
    method: 'GET', path: '/v1/orgs/:id/usage', access: 'wallet',
    summary: 'What the organization\'s calls were charged (tUSDT base units, decimal strings), with calls and tokens, grouped by project, model, key or UTC day; from inclusive, to exclusive (owner or admin).',
    input: usageInput,
    async handle({ w, principal, input }) {
      if (input.from && input.to && input.from >= input.to) throw badRequest('from must be before to')
      const { org } = await requireOrgRole(w, input.id, walletOf(principal), MANAGERS)
      return { data: await usageOf(w, org.address, input.group_by, input.from, input.to), message: 'Organization usage fetched' }
    },
  }),
]
