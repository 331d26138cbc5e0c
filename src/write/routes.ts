/** Every route of the write path, in one table (mounted by createGatewayServer, walked by the role-matrix test). */
import { authRoutes } from './auth/routes.js'
import { usageRoutes } from './billing/routes.js'
import type { WriteRoute } from './http/route.js'
import { conversationRoutes } from './inference/memory/index.js'
import { marketRoutes } from './market/routes.js'
import { organizationRoutes } from './orgs/routes.js'
import { projectRoutes } from './projects/routes.js'
import { settlementRoutes } from './settlement/index.js'
import { transactionRoutes } from './signer/index.js'
import { webhookRoutes } from './webhooks/routes.js'

export const writeRoutes: readonly WriteRoute[] = [
  ...authRoutes,
  ...organizationRoutes,
  ...usageRoutes,
  ...projectRoutes,
  ...marketRoutes,
  ...webhookRoutes,
  ...transactionRoutes,
  ...settlementRoutes,
  ...conversationRoutes,
]
