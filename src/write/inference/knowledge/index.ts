// Knowledge products: parsed to text, chunked, indexed with PostgreSQL full-text search at first use, searched per question.
export {
  KnowledgeParseError,
  MAX_KNOWLEDGE_URLS,
  knowledgeKindOfContentType,
  knowledgeUrls,
  loadKnowledgeText,
  parseKnowledge,
  type FetchedKnowledge,
  type KnowledgeKind,
} from './parse.js'
export { chunkText, type ChunkOptions } from './chunk.js'
export { ensureKnowledgeIndexed, searchKnowledge, type KnowledgeHit, type KnowledgeKey, type KnowledgeQuery } from './store.js'
