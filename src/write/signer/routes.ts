import type { WriteRoute } from '../http/route.js'

/** The routes of the status of server transactions. To be built. */
export const transactionRoutes: WriteRoute[] = []
