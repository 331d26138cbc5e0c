/**
 * The gateway's own tools (RPC tool products, web search) in a bounded loop: the upstream is
 * offered the client's tools plus the gateway's; while it answers with calls of gateway tools
 * only, the gateway runs them, appends the results and asks again, at most `maxRounds` times
 * (the last round without the gateway's tools, so it must answer). An answer that calls a
 * client tool goes back to the client untouched. Usage is summed over the rounds.
 */
import type { OpenAICompatibleClient, UpstreamStream } from '../providers/index.js'
import type { CallOptions, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage } from '../providers/types.js'

export interface ToolRunner {
  readonly definitions: ReadonlyArray<{ type: 'function'; function: { name: string } }>
  has(name: string): boolean
  run(name: string, argumentsJson: string, signal?: AbortSignal): Promise<string>
}

export interface ToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

export function addUsage(a: Usage | null, b: Usage | null): Usage | null {
  if (!a) return b
  if (!b) return a
  return {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
  }
}

/** The client's tools with the gateway's added; a gateway tool named like a client tool stays out (the client's wins). */
export function offerTools(request: ChatCompletionRequest, tools: ToolRunner): ChatCompletionRequest {
  const clientTools = Array.isArray(request.tools) ? (request.tools as unknown[]) : []
  const clientNames = new Set(clientTools.map((t) => (isObj(t) && isObj(t.function) ? t.function.name : undefined)))
  const added = tools.definitions.filter((d) => !clientNames.has(d.function.name))
  if (added.length === 0) return request
  return { ...request, tools: [...clientTools, ...added] }
}

/** Whether the gateway runs these calls itself: all of them are its tools (a client tool among them sends the answer to the client). */
const gatewayRound = (calls: ToolCall[], tools: ToolRunner): boolean => calls.length > 0 && calls.every((c) => tools.has(c.function.name))

async function runCalls(calls: ToolCall[], tools: ToolRunner, signal?: AbortSignal): Promise<Obj[]> {
  const results = await Promise.all(calls.map((call) => tools.run(call.function.name, call.function.arguments, signal)))
  return calls.map((call, i) => ({ role: 'tool', tool_call_id: call.id, content: results[i] }))
}

function toolCallsOf(message: unknown): ToolCall[] {
  if (!isObj(message) || !Array.isArray(message.tool_calls)) return []
  return message.tool_calls.filter((c): c is ToolCall => isObj(c) && isObj(c.function) && typeof c.function.name === 'string')
}

/** The request of round `round`: the last round no longer offers the gateway's tools. */
function roundRequest(request: ChatCompletionRequest, base: ChatCompletionRequest, round: number, maxRounds: number, tools: ToolRunner): ChatCompletionRequest {
  if (tools.definitions.length === 0) return request
  return round + 1 < maxRounds ? { ...offerTools(base, tools), messages: request.messages } : { ...base, messages: request.messages }
}

export interface ToolLoopOptions extends CallOptions {
  tools: ToolRunner
  maxRounds: number
}

export async function completeWithTools(
  client: OpenAICompatibleClient, request: ChatCompletionRequest, options: ToolLoopOptions,
): Promise<{ body: ChatCompletion; usage: Usage | null; rounds: number }> {
  const { tools, maxRounds } = options
  let messages = [...request.messages]
  let usage: Usage | null = null
  for (let round = 0; ; round++) {
    const answer = await client.complete(roundRequest({ ...request, messages }, request, round, maxRounds, tools), options)
    usage = addUsage(usage, answer.usage)
    const message = answer.body.choices.length === 1 ? answer.body.choices[0]?.message : undefined
    const calls = toolCallsOf(message)
    if (round + 1 >= maxRounds || !gatewayRound(calls, tools)) return { body: answer.body, usage, rounds: round + 1 }
    messages = [...messages, message, ...(await runCalls(calls, tools, options.signal))]
  }
}

/** Tool-call deltas of one streamed choice, assembled by index. */
export class ToolCallAssembler {
  private readonly calls = new Map<number, ToolCall>()
  add(deltas: unknown): void {
    if (!Array.isArray(deltas)) return
    for (const d of deltas) {
      if (!isObj(d)) continue
      const index = typeof d.index === 'number' ? d.index : this.calls.size
      const call = this.calls.get(index) ?? { id: '', type: 'function' as const, function: { name: '', arguments: '' } }
      if (typeof d.id === 'string') call.id = d.id
      const fn = isObj(d.function) ? d.function : {}
      if (typeof fn.name === 'string') call.function.name += fn.name
      if (typeof fn.arguments === 'string') call.function.arguments += fn.arguments
      this.calls.set(index, call)
    }
  }
  get list(): ToolCall[] {
    return [...this.calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c)
  }
}

/**
 * One logical stream over the rounds. While the gateway may still run tools, the chunks that
 * carry tool-call deltas or the finish reason are held back until the round ends: replayed as
 * they were if the client must see them, dropped if the gateway runs the calls and asks again.
 * Content deltas flow at once. Usage-only chunks are dropped: the summed usage is the stream's.
 */
export async function streamWithTools(
  client: OpenAICompatibleClient, request: ChatCompletionRequest, options: ToolLoopOptions,
): Promise<UpstreamStream> {
  const { tools, maxRounds } = options
  const state = { usage: null as Usage | null }
  let messages = [...request.messages]
  let round = 0
  let current = await client.stream(roundRequest({ ...request, messages }, request, round, maxRounds, tools), options)
  const clientAskedUsage = current.clientAskedUsage
  const mayLoop = tools.definitions.length > 0 && (request.n ?? 1) === 1

  async function* chunks(): AsyncGenerator<ChatCompletionChunk> {
    for (;;) {
      const holding = mayLoop && round + 1 < maxRounds
      const held: ChatCompletionChunk[] = []
      const calls = new ToolCallAssembler()
      let content = ''
      for await (const chunk of current) {
        if (Array.isArray(chunk.choices) && chunk.choices.length === 0) continue // usage only
        const choice = chunk.choices[0]
        const delta = isObj(choice?.delta) ? choice.delta : {}
        if (typeof delta.content === 'string') content += delta.content
        if (holding && (delta.tool_calls !== undefined || choice?.finish_reason != null)) {
          calls.add(delta.tool_calls)
          // Content in the same chunk still goes out now; the rest waits.
          if (typeof delta.content === 'string' && delta.content.length > 0) {
            const { content: text, ...rest } = delta
            yield { ...chunk, choices: [{ ...choice, delta: { content: text }, finish_reason: null }] }
            held.push({ ...chunk, choices: [{ ...choice, delta: rest }] })
          } else {
            held.push(chunk)
          }
          continue
        }
        yield chunk
      }
      state.usage = addUsage(state.usage, current.usage)
      const list = calls.list
      if (!holding || !gatewayRound(list, tools)) {
        for (const chunk of held) yield chunk
        return
      }
      const assistant = { role: 'assistant', content: content || null, tool_calls: list }
      messages = [...messages, assistant, ...(await runCalls(list, tools, options.signal))]
      round += 1
      current = await client.stream(roundRequest({ ...request, messages }, request, round, maxRounds, tools), options)
    }
  }

  const iterator = chunks()
  return {
    get usage() {
      return state.usage
    },
    clientAskedUsage,
    [Symbol.asyncIterator]: () => iterator,
  }
}
