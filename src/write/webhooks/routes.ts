import type { WriteRoute } from '../http/route.js'

/** The routes of payment provider webhooks. To be built. */
export const webhookRoutes: WriteRoute[] = []
