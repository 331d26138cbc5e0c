import { defineProvider } from './adapter.js'

export const openai = defineProvider('openai', 'OPENAI_API_KEY')
