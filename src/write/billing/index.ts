export { DuplicateRequestError, InsufficientQuotaError, type Billing, type ChargeRequest, type Reservation, type Usage } from './billing.js'
export { createBilling, type BillingOptions } from './create-billing.js'
export { releaseStaleReservations } from './stale.js'
