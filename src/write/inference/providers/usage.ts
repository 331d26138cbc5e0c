import type { Usage } from './types.js'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/**
 * The token usage of an answer or a chunk, wherever the provider put it: `usage` (OpenAI,
 * Gemini, DeepSeek, vLLM), `x_groq.usage` (Groq's streams), `choices[i].usage` (Moonshot's
 * streams). Null when the body carries none.
 */
export function readUsage(body: unknown): Usage | null {
  if (!isObj(body)) return null
  const candidates: unknown[] = [body.usage, isObj(body.x_groq) ? body.x_groq.usage : undefined]
  if (Array.isArray(body.choices)) for (const c of body.choices) if (isObj(c)) candidates.push(c.usage)
  for (const c of candidates) {
    const usage = toUsage(c)
    if (usage) return usage
  }
  return null
}

function toUsage(v: unknown): Usage | null {
  if (!isObj(v)) return null
  const prompt = num(v.prompt_tokens) ?? num(v.input_tokens)
  const completion = num(v.completion_tokens) ?? num(v.output_tokens)
  if (prompt === null && completion === null) return null
  const p = prompt ?? 0
  const c = completion ?? 0
  return { ...v, prompt_tokens: p, completion_tokens: c, total_tokens: num(v.total_tokens) ?? p + c }
}

/**
 * The chunk that only carries usage (`choices: []`), which the upstream sends because the
 * gateway always asks for it; the caller drops it when its client did not ask.
 */
export const isUsageOnlyChunk = (chunk: { choices?: unknown; usage?: unknown }): boolean =>
  Array.isArray(chunk.choices) && chunk.choices.length === 0 && isObj(chunk.usage)
