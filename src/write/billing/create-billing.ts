import type { Kysely } from 'kysely'
import type { ChainConfig } from '../../config/index.js'
import type { Database } from '../../db/index.js'
import type { Logger, Registry } from '../../obs/index.js'
import type { Billing } from './billing.js'

export interface BillingOptions {
  db: Kysely<Database>
  chain: ChainConfig
  logger: Logger
  metrics: Registry
  now?: () => Date
}

/** To be built. */
export function createBilling(_options: BillingOptions): Billing {
  const notBuilt = () => Promise.reject(new Error('billing is not built yet'))
  return { reserve: notBuilt, charge: notBuilt, release: notBuilt }
}
