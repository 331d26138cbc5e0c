export { createOutbox, type OutboxOptions } from './create-outbox.js'
export type { Outbox, OutboxEntry, OutboxRequest } from './outbox.js'
export { transactionRoutes } from './routes.js'
export { entryJson } from './views.js'
