import type { WriteRoute } from '../http/route.js'

/** The routes of sign-in, logout, me, API keys. To be built. */
export const authRoutes: WriteRoute[] = []
