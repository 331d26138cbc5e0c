/**
 * The OpenAI-compatible routes under /api/v1beta/openai, in OpenAI's own wire format (not v1's
 * envelope), so the official clients work with baseURL = <gateway>/api/v1beta/openai.
 */
import type Router from '@koa/router'
import { OPENAI_PATH_PREFIX } from '../http/openai-errors.js'
import { chatCompletionsHandler } from './chat-completions.js'
import type { ChatDeps } from './chat/run-chat.js'
import { listModelsHandler, retrieveModelHandler } from './models.js'
import { openAiHandler } from './openai-error.js'

export function mountOpenAiRoutes(router: Router, deps: ChatDeps): void {
  const { w } = deps
  router.post(`${OPENAI_PATH_PREFIX}/chat/completions`, openAiHandler(chatCompletionsHandler(deps)))
  router.get(`${OPENAI_PATH_PREFIX}/models`, openAiHandler(listModelsHandler(w)))
  router.get(`${OPENAI_PATH_PREFIX}/models/:model`, openAiHandler(retrieveModelHandler(w)))
}
