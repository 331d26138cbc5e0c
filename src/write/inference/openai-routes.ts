import type Router from '@koa/router'
import type { WriteContext } from '../context.js'

/** The OpenAI-compatible routes under /api/v1beta/openai. To be built. */
export function mountOpenAiRoutes(_router: Router, _w: WriteContext): void {}
