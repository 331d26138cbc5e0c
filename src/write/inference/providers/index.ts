import type { HaitheConfig } from '../../../config/index.js'
import type { ProviderAdapter } from './adapter.js'
import { OpenAICompatibleClient } from './client.js'
import { custom } from './custom.js'
import { deepseek } from './deepseek.js'
import { ProviderConfigError } from './errors.js'
import { google } from './google.js'
import { groq } from './groq.js'
import { moonshot } from './moonshot.js'
import { openai } from './openai.js'

export { OpenAICompatibleClient, type UpstreamStream } from './client.js'
export { UpstreamError, ProviderConfigError, normalizeErrorBody, parseRetryAfter } from './errors.js'
export { readUsage, isUsageOnlyChunk } from './usage.js'
export type * from './types.js'
export type { ProviderAdapter } from './adapter.js'

export type ProviderName = keyof HaitheConfig['providers']

export const providers: Readonly<Record<ProviderName, ProviderAdapter>> = { google, groq, openai, deepseek, moonshot, custom }

export interface ResolvedProvider {
  name: ProviderName
  adapter: ProviderAdapter
  client: OpenAICompatibleClient
}

const isProviderName = (name: string): name is ProviderName => Object.hasOwn(providers, name)

/**
 * The client for a configured provider, or a ProviderConfigError naming what to set. The key
 * itself never appears in a message.
 */
export function resolveProvider(config: Pick<HaitheConfig, 'providers'>, name: string, options: { timeoutMs?: number } = {}): ResolvedProvider {
  if (!isProviderName(name)) {
    throw new ProviderConfigError(name, 'unknown_provider', `unknown provider "${name}"; known: ${Object.keys(providers).join(', ')}`)
  }
  const adapter = providers[name]
  const { apiKey, baseUrl } = config.providers[name]
  if (!baseUrl) {
    const how = adapter.baseUrlEnv ? `set ${adapter.baseUrlEnv}` : `set providers.${name}.baseUrl in the configuration`
    throw new ProviderConfigError(name, 'provider_not_configured', `provider "${name}" has no base URL: ${how}`)
  }
  if (adapter.keyRequired && !apiKey) {
    throw new ProviderConfigError(name, 'provider_not_configured', `provider "${name}" has no API key: set ${adapter.keyEnv}`)
  }
  const client = new OpenAICompatibleClient({ provider: name, baseUrl, apiKey, modelId: adapter.modelId, ...options })
  return { name, adapter, client }
}
