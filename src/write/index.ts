// The write path (`haithe gateway`): the only process that holds a private key.
export { createGatewayServer, GatewayPortInUseError, type GatewayServer, type GatewayServerOptions } from './gateway.js'
export type { WriteContext } from './context.js'
export { writeRoutes } from './routes.js'
export { createOutbox, type Outbox, type OutboxEntry, type OutboxOptions, type OutboxRequest } from './signer/index.js'
export { WriteError } from './http/errors.js'
export type { WriteRoute, Access } from './http/route.js'
export type { Principal } from './auth/principal.js'
export { createBilling, InsufficientQuotaError, type Billing, type BillingOptions, type ChargeRequest, type Reservation, type Usage } from './billing/index.js'
