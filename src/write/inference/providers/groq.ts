import { defineProvider } from './adapter.js'

/** Groq: v1's "Haithe" provider; older streams put usage under `x_groq.usage` (see usage.ts). */
export const groq = defineProvider('groq', 'GROQ_API_KEY')
