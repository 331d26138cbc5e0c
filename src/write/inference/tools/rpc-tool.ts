/**
 * `tool:rpc` products: HTTP endpoints a creator describes as OpenAI function tools. The gateway
 * offers them to the model and runs the model's calls through the outbound guard; whatever goes
 * wrong with one call becomes text the model reads, never an error of the whole request.
 */
import { z } from 'zod'
import { ProductContentError } from './errors.js'
import { DestinationRefusedError } from './outbound-guard.js'
import { guardedFetch, OutboundRequestError } from './guarded-fetch.js'

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g

/** Placeholders may fill the path and query only: a model never picks the host it calls. */
function checkToolUrl(url: string, ctx: z.RefinementCtx): void {
  const sample = url.replace(PLACEHOLDER, 'x')
  let parsed: URL
  try {
    parsed = new URL(sample)
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${url}" is not a URL` })
    return
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: `must be an http or https URL, not ${parsed.protocol}` })
    return
  }
  const authorityEnd = url.indexOf('/', url.indexOf('//') + 2)
  const authority = authorityEnd === -1 ? url : url.slice(0, authorityEnd)
  if (new RegExp(PLACEHOLDER.source).test(authority)) {
    ctx.addIssue({ code: 'custom', message: 'placeholders are allowed in the path and query only, not in the host' })
  }
}

const parametersSchema = z
  .record(z.string(), z.unknown())
  .refine((schema) => schema.type === undefined || schema.type === 'object', { message: 'must be a JSON Schema of type "object"' })

const missingOr = (expected: string) => ({ error: (issue: { input: unknown }) => (issue.input === undefined ? 'is required' : `must be ${expected}`) })
const text = () => z.string(missingOr('a string'))

const toolSchema = z.object({
  name: text().regex(/^[a-zA-Z0-9_-]{1,64}$/, { message: 'must be 1 to 64 letters, digits, _ or -' }),
  description: text(),
  parameters: parametersSchema.optional(),
  request: z.object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], { error: 'must be GET, POST, PUT, PATCH or DELETE' }).default('GET'),
    url: text().superRefine(checkToolUrl),
    headers: z.record(z.string(), z.string(), missingOr('an object of strings')).default({}),
  }, missingOr('an object with a url')),
}, missingOr('an object'))

/** The three shapes of a product's content, each read by its own schema so errors point at the right place. */
const listSchema = z.array(toolSchema)
const wrappedSchema = z.object({ tools: listSchema }).transform((content) => content.tools)
const singleSchema = toolSchema.transform((tool) => [tool])

export interface RpcTool {
  /** The product the tool came from. */
  product: string
  name: string
  description: string
  /** A JSON Schema of type object. */
  parameters: Record<string, unknown>
  request: {
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
    /** With `{param}` placeholders, filled (URL-encoded) from the call's arguments. */
    url: string
    headers: Record<string, string>
  }
}

export interface OpenAiFunctionTool {
  type: 'function'
  function: { name: string; description?: string; parameters?: unknown }
}

const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '')

/** The tools a `tool:rpc` product's content declares; ProductContentError says what is wrong otherwise. */
export function parseRpcTools(content: string, productName: string): RpcTool[] {
  let json: unknown
  try {
    json = JSON.parse(content)
  } catch {
    throw new ProductContentError(productName, 'a tool:rpc product must be JSON ({"tools": [...]}, an array of tools or one tool); its content is not JSON')
  }
  if (typeof json !== 'object' || json === null) {
    throw new ProductContentError(productName, 'a tool:rpc product must be {"tools": [...]}, an array of tools or one tool')
  }
  const schema = Array.isArray(json) ? listSchema : 'tools' in json ? wrappedSchema : singleSchema
  const parsed = schema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue && issue.path.length > 0 ? `${formatPath(issue.path)} ` : ''
    throw new ProductContentError(productName, `its tool:rpc content is invalid: ${where}${issue?.message ?? 'unexpected shape'}`)
  }
  const tools = parsed.data
  if (tools.length === 0) throw new ProductContentError(productName, 'its tool:rpc content declares no tools')
  const seen = new Set<string>()
  for (const tool of tools) {
    if (seen.has(tool.name)) throw new ProductContentError(productName, `its tool:rpc content declares the tool "${tool.name}" twice`)
    seen.add(tool.name)
  }
  return tools.map((tool) => ({
    product: productName,
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters ?? { type: 'object', properties: {} },
    request: { method: tool.request.method, url: tool.request.url, headers: tool.request.headers },
  }))
}

/** The OpenAI tool object offered to the model. */
export function rpcToolDefinition(tool: RpcTool): OpenAiFunctionTool & { function: { name: string; description: string; parameters: Record<string, unknown> } } {
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters } }
}

export interface RunRpcToolOptions {
  allowHosts: readonly string[]
  timeoutMs: number
  maxBytes: number
  signal?: AbortSignal
}

const errorText = (message: string): string => JSON.stringify({ error: message })
const asText = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value))

/**
 * Runs one call of the model: fills the URL's placeholders from the arguments, sends the rest as
 * the query (GET, DELETE) or a JSON body, and returns what the model reads: the answer's body
 * (prefixed with its status when not 2xx) or `{"error": "..."}`. Throws only when `signal` aborts.
 */
export async function runRpcTool(tool: RpcTool, argumentsJson: string, options: RunRpcToolOptions): Promise<string> {
  let args: unknown
  try {
    args = argumentsJson.trim() === '' ? {} : JSON.parse(argumentsJson)
  } catch {
    return errorText(`the arguments of ${tool.name} are not valid JSON`)
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return errorText(`the arguments of ${tool.name} must be a JSON object`)
  const rest: Record<string, unknown> = { ...(args as Record<string, unknown>) }

  let missing: string | null = null
  const filled = tool.request.url.replace(PLACEHOLDER, (_match, name: string) => {
    const value = rest[name]
    delete rest[name]
    if (value === undefined || value === null) {
      missing ??= name
      return ''
    }
    return encodeURIComponent(asText(value))
  })
  if (missing !== null) return errorText(`${tool.name} needs the argument "${missing}"`)

  let url: URL
  try {
    url = new URL(filled)
  } catch {
    return errorText(`${tool.name} has an invalid URL`)
  }
  const { method } = tool.request
  const headers: Record<string, string> = { accept: 'application/json, text/plain;q=0.9, */*;q=0.5', ...tool.request.headers }
  let body: string | undefined
  if (method === 'GET' || method === 'DELETE') {
    for (const [name, value] of Object.entries(rest)) {
      if (value === undefined || value === null) continue
      for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, asText(item))
    }
  } else {
    body = JSON.stringify(rest)
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json'
  }

  try {
    const answer = await guardedFetch(url.href, { ...options, method, headers, ...(body === undefined ? {} : { body }) })
    const text = answer.body.toString('utf8')
    if (answer.status >= 200 && answer.status <= 299) return text === '' ? `(empty answer, HTTP ${answer.status})` : text
    return `HTTP ${answer.status}\n${text}`
  } catch (err) {
    if (options.signal?.aborted) throw err
    if (err instanceof DestinationRefusedError || err instanceof OutboundRequestError) return errorText(err.message)
    throw err
  }
}
