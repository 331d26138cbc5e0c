/**
 * POST /api/v1beta/openai/chat/completions: OpenAI's chat completions in front of the configured
 * providers. The body is checked only where the gateway needs it (model, messages, n ≤ 5); every
 * other parameter reaches the provider untouched. The call's price (model + products, see
 * pricing.ts) is reserved before the upstream is called, charged when it answered and released
 * when it failed or produced nothing. Products do not shape the prompt yet.
 */
import { randomUUID } from 'node:crypto'
import type { Context } from 'koa'
import type { WriteContext } from '../context.js'
import { InsufficientQuotaError, type Reservation, type Usage as BilledUsage } from '../billing/index.js'
import { readBody } from '../http/body.js'
import { resolveCaller } from './caller-context.js'
import { OpenAiError, writeOpenAiError } from './openai-error.js'
import { isModelEnrolled } from '../orgs/queries.js'
import { findModelByName, productsOfCall } from './pricing.js'
import { ProviderConfigError, UpstreamError, resolveProvider, type ChatCompletionRequest, type Usage } from './providers/index.js'
import { openEventStream, relayStream } from './stream-relay.js'

/** Chat requests carry whole conversations and inline images (base64): more room than v1's routes. */
const MAX_CHAT_BODY_BYTES = 20 * 1024 * 1024

export const MAX_CHOICES = 5

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The fields the gateway reads; the rest stays as the client sent it. */
function checkRequest(json: unknown): ChatCompletionRequest {
  if (!isObject(json)) throw new OpenAiError(400, 'invalid_request_body', 'the body must be a JSON object (Content-Type: application/json)')
  if (typeof json.model !== 'string' || json.model.length === 0) throw new OpenAiError(400, 'missing_required_parameter', 'you must provide a model parameter', 'model')
  if (!Array.isArray(json.messages) || json.messages.length === 0) {
    throw new OpenAiError(400, 'missing_required_parameter', 'messages must be a non-empty array of messages', 'messages')
  }
  if (json.n !== undefined && json.n !== null) {
    if (typeof json.n !== 'number' || !Number.isInteger(json.n) || json.n < 1 || json.n > MAX_CHOICES) {
      throw new OpenAiError(400, 'invalid_value', `n must be an integer from 1 to ${MAX_CHOICES}`, 'n')
    }
  }
  if (json.stream !== undefined && json.stream !== null && typeof json.stream !== 'boolean') throw new OpenAiError(400, 'invalid_type', 'stream must be a boolean', 'stream')
  return json as ChatCompletionRequest
}

const toBilledUsage = (usage: Usage | null): BilledUsage | null =>
  usage && { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, totalTokens: usage.total_tokens }

function relayUpstreamError(c: Context, err: UpstreamError): void {
  const headers: Record<string, string> = {}
  if (err.retryAfter !== null) headers['retry-after'] = String(err.retryAfter)
  writeOpenAiError(c, err.status, err.body, headers)
}

export function chatCompletionsHandler(w: WriteContext) {
  return async (c: Context): Promise<void> => {
    const caller = await resolveCaller(w, c, true)
    const body = await readBody(c, MAX_CHAT_BODY_BYTES)
    const request = checkRequest(body?.json)
    const org = caller.org!
    const project = caller.project!

    const model = await findModelByName(w, request.model)
    if (!model) throw new OpenAiError(400, 'model_not_found', `The model \`${request.model}\` does not exist (GET /models lists those you can use).`, 'model')
    if (!model.isActive) throw new OpenAiError(400, 'model_not_active', `The model \`${model.name}\` is not available at the moment.`, 'model')
    if (!(await isModelEnrolled(w, org.address, model.id))) {
      throw new OpenAiError(403, 'model_not_enrolled', `The model \`${model.name}\` is not enabled for organization org-${org.address.slice(2)}: enrol it with POST /api/v1/orgs/${org.id}/models.`, 'model')
    }
    let provider
    try {
      provider = resolveProvider(w.config, model.provider)
    } catch (err) {
      if (err instanceof ProviderConfigError) throw new OpenAiError(503, err.code, `The model \`${model.name}\` is not available on this gateway: ${err.message}.`)
      throw err
    }

    const products = await productsOfCall(w, org.address, project.id)
    let reservation: Reservation
    try {
      reservation = await w.billing.reserve({
        // Unique per call (a client may resend its own X-Request-Id), traceable by its prefix.
        requestId: `${c.state.requestId}:${randomUUID()}`, organization: org.address, projectId: project.id, apiKeyId: caller.apiKeyId,
        monthlyLimit: caller.monthlyLimit, wallet: caller.wallet, modelId: model.id, modelAmount: model.pricePerCall, products,
      })
    } catch (err) {
      if (err instanceof InsufficientQuotaError) {
        writeOpenAiError(c, 402, { error: { message: err.message, type: 'insufficient_quota', param: null, code: 'insufficient_quota' } })
        return
      }
      throw err
    }
    const totalCost = reservation.amount.toString()
    const signal: AbortSignal = c.state.signal
    const release = () => w.billing.release(reservation)
    const charge = (usage: Usage | null) => w.billing.charge(reservation, toBilledUsage(usage))

    if (request.stream === true) {
      let upstream
      try {
        upstream = await provider.client.stream(request, { signal })
      } catch (err) {
        await release()
        if (err instanceof UpstreamError) return relayUpstreamError(c, err)
        if (signal.aborted) return void (c.respond = false)
        throw err
      }
      openEventStream(c)
      await relayStream(c, upstream, {
        modelName: model.name, totalCost, signal,
        settle: async (outcome) => {
          try {
            if (outcome.end === 'done' || outcome.produced) await charge(outcome.usage)
            else await release()
          } catch (err) {
            c.state.logger.error({ err, reservation: reservation.id }, 'settling a streamed call failed')
          }
        },
      })
      return
    }

    let answer
    try {
      answer = await provider.client.complete(request, { signal })
    } catch (err) {
      await release()
      if (err instanceof UpstreamError) return relayUpstreamError(c, err)
      if (signal.aborted) return void (c.respond = false)
      throw err
    }
    await charge(answer.usage)
    const usage = answer.usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }
    c.status = 200
    c.body = { ...answer.body, model: model.name, usage: { ...(answer.body.usage ?? usage), total_cost: totalCost } }
  }
}
