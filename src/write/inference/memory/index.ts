// Conversation memory: a window of each conversation's last messages kept in the database, and v1's conversation routes.
export {
  appendMemory, ConversationAccessError, ConversationReferenceError, isUuid, loadMemory, MAX_CONVERSATION_REFERENCE_LENGTH, newMessagesOf, resolveConversation,
  type ConversationRequest,
} from './store.js'
export { conversationRoutes } from './routes.js'
export type { ConversationView, MemoryMessageView } from './queries.js'
