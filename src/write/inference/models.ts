/**
 * GET /api/v1beta/openai/models (and /models/:model) in OpenAI's list format: the organization's
 * enrolled active models when an organization is named (or the scoped key's), else every active
 * model of the catalogue. Needs authentication.
 */
import type { Context } from 'koa'
import type { WriteContext } from '../context.js'
import { resolveCaller } from './caller-context.js'
import { OpenAiError } from './openai-error.js'

interface OpenAiModel {
  id: string
  object: 'model'
  created: number
  owned_by: string
}

async function visibleModels(w: WriteContext, c: Context): Promise<OpenAiModel[]> {
  const caller = await resolveCaller(w, c, false)
  if (caller.org) {
    const rows = await w.db
      .selectFrom('app.org_model_enrollments as e')
      .innerJoin('app.models as m', 'm.id', 'e.model_id')
      .select(['m.name', 'm.provider', 'e.created_at'])
      .where('e.chain_id', '=', w.chain.chainId)
      .where('e.organization', '=', caller.org.address)
      .where('m.is_active', '=', true)
      .orderBy('m.id')
      .execute()
    return rows.map((r) => ({ id: r.name, object: 'model', created: Math.floor(new Date(r.created_at).getTime() / 1000), owned_by: r.provider }))
  }
  const rows = await w.db.selectFrom('app.models').select(['name', 'provider']).where('is_active', '=', true).orderBy('id').execute()
  return rows.map((r) => ({ id: r.name, object: 'model', created: 0, owned_by: r.provider }))
}

export function listModelsHandler(w: WriteContext) {
  return async (c: Context): Promise<void> => {
    const data = await visibleModels(w, c)
    c.status = 200
    c.body = { object: 'list', data }
  }
}

export function retrieveModelHandler(w: WriteContext) {
  return async (c: Context): Promise<void> => {
    const name = decodeURIComponent(String((c.params as Record<string, string>).model ?? ''))
    const found = (await visibleModels(w, c)).find((m) => m.id === name)
    if (!found) throw new OpenAiError(404, 'model_not_found', `The model \`${name}\` does not exist or you do not have access to it.`, 'model')
    c.status = 200
    c.body = found
  }
}
