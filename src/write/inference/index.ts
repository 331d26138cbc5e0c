// OpenAI-compatible inference: provider adapters over one OpenAI-compatible client, SSE, the chat pipeline.
export * from './providers/index.js'
export { SSE_DONE, sseComment, sseData } from './sse.js'
