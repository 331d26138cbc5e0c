// OpenAI-compatible inference (in progress): provider adapters over one OpenAI-compatible client, SSE.
export * from './providers/index.js'
export { SSE_DONE, sseComment, sseData } from './sse.js'
