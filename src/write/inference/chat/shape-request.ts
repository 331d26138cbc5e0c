/**
 * What the gateway adds to a client's request before the upstream sees it: the prompt sets'
 * lines and the best knowledge chunks as one system message first, then the client's own system
 * messages, the conversation's remembered messages, and the rest of the request.
 */
import type { ChatCompletionRequest } from '../providers/types.js'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const isInstruction = (m: unknown): boolean => isObj(m) && (m.role === 'system' || m.role === 'developer')

/** The text of a message's content: a string, or the text parts of an array of parts. */
export function textOf(message: unknown): string {
  if (!isObj(message)) return ''
  const { content } = message
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content.map((part) => (isObj(part) && part.type === 'text' && typeof part.text === 'string' ? part.text : '')).filter(Boolean).join('\n')
}

/** The last user message's text: what knowledge is searched for. */
export function lastUserText(messages: readonly unknown[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]
    if (isObj(m) && m.role === 'user') return textOf(m)
  }
  return ''
}

export interface KnowledgeHit {
  productName: string
  content: string
}

/** The gateway's system message, or null when no product adds anything. */
export function gatewayInstructions(prompts: readonly string[], knowledge: readonly KnowledgeHit[]): string | null {
  const parts: string[] = []
  if (prompts.length > 0) parts.push(prompts.join('\n'))
  if (knowledge.length > 0) {
    const excerpts = knowledge.map((hit, i) => `[${i + 1}] (${hit.productName})\n${hit.content}`).join('\n\n')
    parts.push(`Use the following excerpts from the knowledge base when they are relevant to the question:\n\n${excerpts}`)
  }
  return parts.length > 0 ? parts.join('\n\n') : null
}

export function shapeMessages(request: ChatCompletionRequest, instructions: string | null, memory: readonly unknown[]): unknown[] {
  const messages = request.messages
  let lead = 0
  while (lead < messages.length && isInstruction(messages[lead])) lead++
  return [
    ...(instructions ? [{ role: 'system', content: instructions }] : []),
    ...messages.slice(0, lead),
    ...memory,
    ...messages.slice(lead),
  ]
}
