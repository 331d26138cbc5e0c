/**
 * The `web_search` tool, through the operator's search provider (Tavily, Brave or SearXNG). The
 * provider's URL is configured by the operator, so it is called with plain fetch, not the guard
 * (a SearXNG on the same host is a normal setup). The API key never appears in what the model reads.
 */
import type { HaitheConfig } from '../../../config/index.js'
import type { OpenAiFunctionTool } from './rpc-tool.js'

export interface WebSearch {
  definition: OpenAiFunctionTool & { function: { name: 'web_search'; description: string; parameters: Record<string, unknown> } }
  /** The top results as text (title, URL, snippet), or `{"error": "..."}`; throws only when `signal` aborts. */
  run(argumentsJson: string, signal?: AbortSignal): Promise<string>
}

export interface WebSearchOptions {
  timeoutMs: number
  maxBytes: number
}

interface SearchResult {
  title: string
  url: string
  snippet: string
}

const MAX_RESULTS = 5
const MAX_SNIPPET = 300

const definition: WebSearch['definition'] = {
  type: 'function',
  function: {
    name: 'web_search',
    description: 'Search the web and get the top results (title, URL, snippet). Use it for recent or factual information you do not know.',
    parameters: {
      type: 'object',
      properties: { query: { type: 'string', description: 'What to search for' } },
      required: ['query'],
    },
  },
}

const errorText = (message: string): string => JSON.stringify({ error: message })
const trimSlash = (url: string): string => url.replace(/\/+$/, '')
const plain = (text: unknown): string =>
  typeof text === 'string' ? text.replace(/<[^>]*>/g, '').replace(/\s+/g, ' ').trim() : ''

type Provider = Exclude<HaitheConfig['search']['provider'], 'none'>

interface ProviderCall {
  request(query: string): { url: string; init: RequestInit }
  results(json: unknown): unknown[]
  snippetField: string
}

const field = (value: unknown, key: string): unknown =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined

function providerCall(provider: Provider, baseUrl: string | null, apiKey: string | null): ProviderCall | null {
  switch (provider) {
    case 'tavily':
      if (!apiKey) return null
      return {
        request: (query) => ({
          url: `${trimSlash(baseUrl ?? 'https://api.tavily.com')}/search`,
          init: {
            method: 'POST',
            headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
            body: JSON.stringify({ query, max_results: MAX_RESULTS }),
          },
        }),
        results: (json) => asArray(field(json, 'results')),
        snippetField: 'content',
      }
    case 'brave':
      if (!apiKey) return null
      return {
        request: (query) => ({
          url: `${trimSlash(baseUrl ?? 'https://api.search.brave.com')}/res/v1/web/search?${new URLSearchParams({ q: query, count: String(MAX_RESULTS) })}`,
          init: { method: 'GET', headers: { 'x-subscription-token': apiKey, accept: 'application/json' } },
        }),
        results: (json) => asArray(field(field(json, 'web'), 'results')),
        snippetField: 'description',
      }
    case 'searxng':
      if (!baseUrl) return null
      return {
        request: (query) => ({
          url: `${trimSlash(baseUrl)}/search?${new URLSearchParams({ q: query, format: 'json' })}`,
          init: { method: 'GET', headers: { accept: 'application/json' } },
        }),
        results: (json) => asArray(field(json, 'results')),
        snippetField: 'content',
      }
  }
}

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : [])

async function readCapped(response: Response, maxBytes: number): Promise<Buffer | null> {
  if (!response.body) return Buffer.alloc(0)
  const parts: Buffer[] = []
  let size = 0
  const reader = response.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return Buffer.concat(parts)
    size += value.byteLength
    if (size > maxBytes) {
      await reader.cancel()
      return null
    }
    parts.push(Buffer.from(value))
  }
}

function formatResults(query: string, results: SearchResult[]): string {
  if (results.length === 0) return `No web results for "${query}".`
  return results
    .map((result, index) => `${index + 1}. ${result.title || result.url}\n   ${result.url}${result.snippet ? `\n   ${result.snippet}` : ''}`)
    .join('\n')
}

/** The web search tool of the configured provider; null when search is off or lacks its key (or SearXNG its URL). */
export function createWebSearch(config: HaitheConfig['search'], options: WebSearchOptions): WebSearch | null {
  if (config.provider === 'none') return null
  const call = providerCall(config.provider, config.baseUrl, config.apiKey)
  if (!call) return null
  const provider = config.provider

  return {
    definition,
    async run(argumentsJson, signal) {
      let query: unknown
      try {
        query = field(JSON.parse(argumentsJson), 'query')
      } catch {
        return errorText('the arguments of web_search are not valid JSON')
      }
      if (typeof query !== 'string' || query.trim() === '') return errorText('web_search needs a "query" string')

      const { url, init } = call.request(query.trim())
      const timeout = AbortSignal.timeout(options.timeoutMs)
      try {
        const response = await fetch(url, { ...init, signal: signal ? AbortSignal.any([signal, timeout]) : timeout })
        const body = await readCapped(response, options.maxBytes)
        if (body === null) return errorText(`the ${provider} answer is larger than ${options.maxBytes} bytes`)
        if (!response.ok) return errorText(`web search failed: ${provider} answered HTTP ${response.status}`)
        let json: unknown
        try {
          json = JSON.parse(body.toString('utf8'))
        } catch {
          return errorText(`web search failed: ${provider} answered something that is not JSON`)
        }
        const results = call
          .results(json)
          .slice(0, MAX_RESULTS)
          .map((item) => ({ title: plain(field(item, 'title')), url: plain(field(item, 'url')), snippet: plain(field(item, call.snippetField)).slice(0, MAX_SNIPPET) }))
          .filter((result) => result.url !== '')
        return formatResults(query.trim(), results)
      } catch (err) {
        if (signal?.aborted) throw err
        if (timeout.aborted) return errorText(`web search failed: ${provider} did not answer within ${options.timeoutMs} ms`)
        // The error of fetch names the URL at most (never the key, which travels in a header).
        return errorText(`web search failed: could not reach ${provider}`)
      }
    },
  }
}
