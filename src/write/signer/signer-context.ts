/** What the signer's steps share: where they write, what they sign with, and what this process has sent. */
import type { Kysely } from 'kysely'
import type { Address } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import type { ChainPublicClient } from '../../chain/index.js'
import type { Database } from '../../db/index.js'
import type { Logger } from '../../obs/index.js'
import type { OutboxMetrics } from './metrics.js'

export interface SignerContext {
  db: Kysely<Database>
  client: ChainPublicClient
  account: PrivateKeyAccount
  chainId: number
  /** The server's account, lowercase (as stored in app.tx_outbox.from_address). */
  from: Address
  confirmations: number
  stuckAfterMs: number
  /** How long the chain must show a row's nonce used, with none of its attempts mined, before it is sent again with a new nonce. */
  takeoverGraceMs: number
  logger: Logger
  metrics: OutboxMetrics
  /** Attempts broadcast during this leadership term: the others (after a restart) are sent again. */
  sentHere: Set<string>
  /** Rows whose nonce the chain shows used with none of their attempts mined, and since when (ms). */
  usedElsewhereSince: Map<string, number>
}

/** Unsettled rows of this account on this chain. */
export function ownRows(s: SignerContext) {
  return s.db.selectFrom('app.tx_outbox').selectAll().where('chain_id', '=', s.chainId).where('from_address', '=', s.from)
}
