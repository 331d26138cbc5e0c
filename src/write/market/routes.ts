import type { WriteRoute } from '../http/route.js'
import { creatorRoutes } from './creators.js'
import { faucetRoutes } from './faucet.js'
import { productRoutes } from './products.js'
import { statsRoutes } from './stats.js'
import { teeRoutes } from './tee.js'

/** The routes of creators, products, stats, the faucet and the TEE. */
export const marketRoutes: WriteRoute[] = [...creatorRoutes, ...productRoutes, ...statsRoutes, ...faucetRoutes, ...teeRoutes]
