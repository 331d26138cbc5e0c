import type { PrivateKeyAccount } from 'viem/accounts'
import type { Kysely } from 'kysely'
import type { ChainPublicClient } from '../../chain/index.js'
import type { ChainConfig } from '../../config/index.js'
import type { Database } from '../../db/index.js'
import type { Logger, Registry } from '../../obs/index.js'
import type { Outbox } from './outbox.js'

export interface OutboxOptions {
  db: Kysely<Database>
  chain: ChainConfig
  publicClient: ChainPublicClient
  account: PrivateKeyAccount
  /** Blocks on top of a transaction's block before it is `confirmed`. */
  confirmations: number
  /** Unmined this long: replaced with a higher fee. */
  stuckAfterMs: number
  logger: Logger
  metrics: Registry
}

/** To be built. */
export function createOutbox(_options: OutboxOptions): Outbox {
  throw new Error('not built')
}
