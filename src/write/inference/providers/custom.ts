import { defineProvider } from './adapter.js'

/** Any OpenAI-compatible server (vLLM, Ollama, …): base URL required, key optional. */
export const custom = defineProvider('custom', 'CUSTOM_LLM_API_KEY', { baseUrlEnv: 'CUSTOM_LLM_BASE_URL', keyRequired: false })
