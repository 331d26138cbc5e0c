import type { WriteRoute } from '../http/route.js'

/** The routes of models, creators, products, stats, faucet, TEE. To be built. */
export const marketRoutes: WriteRoute[] = []
