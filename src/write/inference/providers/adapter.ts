/**
 * What differs between providers: where their key comes from and how a client's model name
 * becomes the provider's model id. Everything else is the shared OpenAI-compatible client.
 */
export interface ProviderAdapter {
  name: string
  /** The environment variable that sets the key. */
  keyEnv: string
  /** The environment variable that sets the base URL, when there is one. */
  baseUrlEnv: string | null
  /** Self-hosted servers (vLLM, Ollama) often take no key. */
  keyRequired: boolean
  modelId: (model: string) => string
}

/** `google/gemini-2.0-flash` → `gemini-2.0-flash`; a bare id is kept. */
export const stripPrefix = (name: string) => (model: string): string => (model.startsWith(`${name}/`) ? model.slice(name.length + 1) : model)

export const defineProvider = (name: string, keyEnv: string, extra: Partial<Omit<ProviderAdapter, 'name' | 'keyEnv'>> = {}): ProviderAdapter => ({
  name,
  keyEnv,
  baseUrlEnv: null,
  keyRequired: true,
  modelId: stripPrefix(name),
  ...extra,
})
