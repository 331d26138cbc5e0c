/**
 * What every part of the write path receives: the database, the chain it writes to, the
 * server's signing account and outbox, configuration, logger and metrics.
 */
import type { Kysely } from 'kysely'
import type { PrivateKeyAccount } from 'viem/accounts'
import type { ChainPublicClient } from '../chain/index.js'
import type { ChainConfig, HaitheConfig } from '../config/index.js'
import type { Database } from '../db/index.js'
import type { Logger, Registry } from '../obs/index.js'
import type { Billing } from './billing/index.js'
import type { CallCache } from './inference/chat/call-cache.js'
import type { Outbox } from './signer/outbox.js'

export interface WriteContext {
  db: Kysely<Database>
  chain: ChainConfig
  /** Reads contract state (allowances, receipts, ERC-1271 signatures). */
  publicClient: ChainPublicClient
  /** The server's account: signs transactions, `sk-` keys, and is the orchestrator's `server`. */
  account: PrivateKeyAccount
  outbox: Outbox
  /** Reserves, charges and releases the price of inference calls. */
  billing: Billing
  /** What inference calls read before they start, remembered for a moment (cleared by write routes). */
  callCache: CallCache
  config: HaitheConfig
  /** HS256 secret of session tokens. */
  jwtSecret: string
  logger: Logger
  metrics: Registry
  /** The clock (tests move it). */
  now(): Date
}
