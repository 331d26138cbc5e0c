/**
 * One chat completion, whatever the transport (HTTP or WebSocket): the model and its provider,
 * the products that shape the answer (prompt sets, knowledge, RPC tools), web search, the
 * conversation's memory, then the price reserved, the upstream called (with the gateway's tools
 * in a bounded loop), and the reservation charged or released. Failures before any output are
 * thrown: OpenAiError (the gateway's) or UpstreamError (the provider's, with its status).
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { OrganizationRef } from '../../access/roles.js'
import type { WriteContext } from '../../context.js'
import { InsufficientQuotaError, type Reservation, type Usage as BilledUsage } from '../../billing/index.js'
import { isModelEnrolled } from '../../orgs/queries.js'
import { projectById, usableProducts } from '../../projects/queries.js'
import type { CallerContext } from '../caller-context.js'
import { searchKnowledge } from '../knowledge/index.js'
import { appendMemory, loadMemory, newMessagesOf, resolveConversation, ConversationAccessError, ConversationReferenceError } from '../memory/index.js'
import { OpenAiError } from '../openai-error.js'
import { findModelByName, type CatalogueModel } from '../pricing.js'
import type { AppliedProduct, ProductLoader } from '../products/index.js'
import { ProviderConfigError, resolveProvider, type ChatCompletion, type ChatCompletionRequest, type Usage } from '../providers/index.js'
import { relayStream, type EventSink } from '../stream-relay.js'
import { createToolSet, createWebSearch, rpcToolDefinition, runRpcTool, type GatewayTool } from '../tools/index.js'
import { gatewayInstructions, lastUserText, shapeMessages, type KnowledgeHit } from './shape-request.js'
import { completeWithTools, streamWithTools } from './tool-loop.js'

const MAX_CHOICES = 5

export interface ChatCall {
  /** With its organization and project resolved. */
  caller: CallerContext
  request: ChatCompletionRequest
  /** The transport's request id: the ledger line's id starts with it. */
  requestId: string
  /** Aborted when the client goes away: cancels the upstream call. */
  signal: AbortSignal
  logger: Logger
  /** `Haithe-Conversation`: the conversation memory is kept under (else the request's `user`). */
  conversation?: string | undefined
  /** Where a streamed answer goes; required when `request.stream` is true. */
  sink?: EventSink
}

export interface ChatResult {
  /** The answer, for a call that did not stream. */
  completion: ChatCompletion | null
  /** Headers the transport passes on (`Haithe-Conversation`). */
  headers: Record<string, string>
}

export interface ChatDeps {
  w: WriteContext
  products: ProductLoader
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The fields the gateway reads; the rest stays as the client sent it. */
export function checkChatRequest(json: unknown): ChatCompletionRequest {
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

function toolsOf(w: WriteContext, applied: readonly AppliedProduct[], searchEnabled: boolean) {
  const { allowHosts, toolTimeoutMs: timeoutMs, maxToolResponseBytes: maxBytes } = w.config.inference
  const tools: GatewayTool[] = []
  for (const product of applied) {
    if (product.use !== 'tools') continue
    for (const tool of product.tools) {
      tools.push({ definition: rpcToolDefinition(tool), run: (args, signal) => runRpcTool(tool, args, { allowHosts, timeoutMs, maxBytes, signal }) })
    }
  }
  const search = searchEnabled ? createWebSearch(w.config.search, { timeoutMs, maxBytes }) : null
  if (search) tools.push(search)
  return createToolSet(tools)
}

async function knowledgeFor(w: WriteContext, applied: readonly AppliedProduct[], messages: readonly unknown[]): Promise<KnowledgeHit[]> {
  const sources = applied.flatMap((p) => (p.use === 'knowledge' ? [{ product: p.address, version: p.version }] : []))
  if (sources.length === 0) return []
  const names = new Map<string, string>(applied.map((p) => [p.address, p.name]))
  const hits = await searchKnowledge(w.db, { chainId: w.chain.chainId, sources, text: lastUserText(messages), limit: w.config.inference.knowledgeChunks })
  return hits.map((hit) => ({ productName: names.get(hit.product) ?? hit.product, content: hit.content }))
}

async function conversationOf(w: WriteContext, call: ChatCall, memoryEnabled: boolean): Promise<string | null> {
  const reference = call.conversation ?? (typeof call.request.user === 'string' ? call.request.user : undefined)
  if (!memoryEnabled || !reference) return null
  try {
    const { id } = await resolveConversation(w, { projectId: call.caller.project!.id, wallet: call.caller.wallet, reference })
    return id
  } catch (err) {
    if (err instanceof ConversationAccessError) throw new OpenAiError(403, 'conversation_forbidden', err.message)
    if (err instanceof ConversationReferenceError) throw new OpenAiError(400, 'invalid_conversation', err.message)
    throw err
  }
}

/** The model the call names, if it exists, is active and is enrolled for the organization. */
async function enrolledModel(w: WriteContext, org: OrganizationRef, name: string): Promise<CatalogueModel> {
  const model = await findModelByName(w, name)
  if (!model) throw new OpenAiError(400, 'model_not_found', `The model \`${name}\` does not exist (GET /models lists those you can use).`, 'model')
  if (!model.isActive) throw new OpenAiError(400, 'model_not_active', `The model \`${model.name}\` is not available at the moment.`, 'model')
  if (!(await isModelEnrolled(w, org.address, model.id))) {
    throw new OpenAiError(403, 'model_not_enrolled', `The model \`${model.name}\` is not enabled for organization org-${org.address.slice(2)}: enrol it with POST /api/v1/orgs/${org.id}/models.`, 'model')
  }
  return model
}

/** 402 insufficient_quota for a refused reservation or charge; other errors as they are. */
function asQuotaError(err: unknown): unknown {
  return err instanceof InsufficientQuotaError ? new OpenAiError(402, 'insufficient_quota', err.message) : err
}

export async function runChat({ w, products: loader }: ChatDeps, call: ChatCall): Promise<ChatResult> {
  const { caller, request, signal, logger } = call
  const org = caller.org!
  const project = caller.project!

  const model = await w.callCache.get(`model:${org.address}:${request.model}`, () => enrolledModel(w, org, request.model))
  let provider
  try {
    provider = resolveProvider(w.config, model.provider)
  } catch (err) {
    if (err instanceof ProviderConfigError) throw new OpenAiError(503, err.code, `The model \`${model.name}\` is not available on this gateway: ${err.message}.`)
    throw err
  }

  const [settings, usable] = await w.callCache.get(`project:${project.id}:${org.address}`, () =>
    Promise.all([projectById(w, project.id), usableProducts(w, project.id, org.address)]))
  const { applied, skipped } = await loader.load(usable)
  const conversationId = await conversationOf(w, call, settings?.memory_enabled === true)
  const [memory, knowledge] = await Promise.all([
    conversationId ? loadMemory(w, conversationId, w.config.inference.memoryWindow) : [],
    knowledgeFor(w, applied, request.messages),
  ])
  const prompts = applied.flatMap((p) => (p.use === 'prompts' ? p.lines : []))
  const tools = toolsOf(w, applied, settings?.search_enabled === true)
  const upstreamRequest: ChatCompletionRequest = { ...request, messages: shapeMessages(request, gatewayInstructions(prompts, knowledge), memory) }
  const headers: Record<string, string> = {}
  if (conversationId) headers['haithe-conversation'] = conversationId
  if (skipped.length > 0) headers['haithe-products-skipped'] = skipped.map((s) => s.product.id).join(',')

  let reservation: Reservation
  try {
    reservation = await w.billing.reserve({
      // Unique per call (a client may resend its own request id), traceable by its prefix.
      requestId: `${call.requestId}:${randomUUID()}`, organization: org.address, projectId: project.id, apiKeyId: caller.apiKeyId,
      monthlyLimit: caller.monthlyLimit, wallet: caller.wallet, modelId: model.id, modelAmount: model.pricePerCall,
      products: applied.map((p) => ({ product: p.address, amount: p.price })),
      answerAwaitsCharge: request.stream !== true,
    })
  } catch (err) {
    throw asQuotaError(err)
  }
  const totalCost = reservation.amount.toString()
  const loop = { signal, tools, maxRounds: w.config.inference.maxToolRounds }
  /** An upstream call that failed before answering costs nothing. */
  const releasedOnFailure = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call()
    } catch (err) {
      await w.billing.release(reservation)
      throw err
    }
  }
  const remember = async (answer: unknown) => {
    if (!conversationId) return
    try {
      await appendMemory(w, conversationId, [...newMessagesOf(request.messages), answer])
    } catch (err) {
      logger.error({ err, conversationId }, 'remembering a conversation failed')
    }
  }

  if (request.stream === true) {
    const sink = call.sink
    if (!sink) throw new Error('a streamed call needs a sink')
    const upstream = await releasedOnFailure(() => streamWithTools(provider.client, upstreamRequest, loop))
    sink.open(headers)
    await relayStream(sink, upstream, {
      modelName: model.name, totalCost, signal, logger,
      settle: async (outcome) => {
        try {
          if (outcome.end === 'done' || outcome.produced) await w.billing.charge(reservation, toBilledUsage(outcome.usage))
          else await w.billing.release(reservation)
        } catch (err) {
          logger.error({ err, reservation: reservation.id }, 'settling a streamed call failed')
        }
        if (outcome.end === 'done') await remember(outcome.message)
      },
    })
    return { completion: null, headers }
  }

  const answer = await releasedOnFailure(() => completeWithTools(provider.client, upstreamRequest, loop))
  // The answer goes out only once it is charged: a charge refused now is a 402, not a free answer.
  await w.billing.charge(reservation, toBilledUsage(answer.usage)).catch((err: unknown) => {
    throw asQuotaError(err)
  })
  await remember(answer.body.choices[0]?.message)
  const usage = answer.usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }
  return { completion: { ...answer.body, model: model.name, usage: { ...usage, total_cost: totalCost } }, headers }
}
