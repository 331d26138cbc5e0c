/** Every route of the write path, in one table (mounted by createGatewayServer, walked by the role-matrix test). */
import { authRoutes } from './auth/routes.js'
import type { WriteRoute } from './http/route.js'
import { marketRoutes } from './market/routes.js'
import { organizationRoutes } from './orgs/routes.js'
import { projectRoutes } from './projects/routes.js'
import { transactionRoutes } from './signer/index.js'
import { webhookRoutes } from './webhooks/routes.js'

export const writeRoutes: readonly WriteRoute[] = [
  ...authRoutes,
  ...organizationRoutes,
  ...projectRoutes,
  ...marketRoutes,
  ...webhookRoutes,
  ...transactionRoutes,
]
