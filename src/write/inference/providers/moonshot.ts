import { defineProvider } from './adapter.js'

/** Moonshot (Kimi); its streams put usage in `choices[0].usage` (see usage.ts). */
export const moonshot = defineProvider('moonshot', 'MOONSHOT_API_KEY')
