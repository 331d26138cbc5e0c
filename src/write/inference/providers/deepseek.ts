import { defineProvider } from './adapter.js'

export const deepseek = defineProvider('deepseek', 'DEEPSEEK_API_KEY')
