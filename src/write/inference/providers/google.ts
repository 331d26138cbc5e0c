import { defineProvider } from './adapter.js'

/** Gemini through its OpenAI-compatible endpoint (…/v1beta/openai), Bearer key. */
export const google = defineProvider('google', 'GEMINI_API_KEY')
