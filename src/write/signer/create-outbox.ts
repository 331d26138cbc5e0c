/**
 * The outbox: enqueue/get/settled read and write app.tx_outbox from any process; `run` is the
 * signer (signer-loop.ts), which signs only while this process holds the signer lock.
 */
import type { PrivateKeyAccount } from 'viem/accounts'
import type { Kysely } from 'kysely'
import type { Address } from 'viem'
import type { ChainPublicClient } from '../../chain/index.js'
import type { ChainConfig } from '../../config/index.js'
import type { Database } from '../../db/index.js'
import type { Logger, Registry } from '../../obs/index.js'
import { enqueueTransaction } from './enqueue.js'
import { createOutboxMetrics } from './metrics.js'
import type { Outbox, OutboxEntry } from './outbox.js'
import type { SignerContext } from './signer-context.js'
import { createWaker, runSigner } from './signer-loop.js'
import { toEntry } from './views.js'

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
  /**
   * How long the chain must show a pending row's nonce used by a transaction that is none of its
   * attempts before the row is sent again with a new nonce; default 2 s.
   */
  takeoverGraceMs?: number
}

const SETTLED_POLL_MS = 100
const DEFAULT_SETTLED_TIMEOUT_MS = 120_000

export function createOutbox(options: OutboxOptions): Outbox {
  const { db, chain } = options
  const from = options.account.address.toLowerCase() as Address
  const sender = { chainId: chain.chainId, from }
  const waker = createWaker()

  const get = async (id: string): Promise<OutboxEntry | undefined> => {
    if (!/^[0-9]{1,18}$/.test(id)) return undefined
    const row = await db.selectFrom('app.tx_outbox').selectAll().where('id', '=', id).executeTakeFirst()
    return row ? toEntry(row) : undefined
  }

  return {
    async enqueue(request, trx) {
      const entry = await enqueueTransaction(trx ?? db, sender, request)
      if (entry.status === 'queued') waker.wake()
      return entry
    },
    get,
    async settled(id, timeoutMs = DEFAULT_SETTLED_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const entry = await get(id)
        if (!entry) throw new Error(`outbox: no transaction ${id}`)
        if (entry.status === 'confirmed' || entry.status === 'failed') return entry
        if (Date.now() >= deadline) throw new Error(`outbox: transaction ${id} not settled within ${timeoutMs} ms (status ${entry.status})`)
        await new Promise((resolve) => setTimeout(resolve, SETTLED_POLL_MS))
      }
    },
    run(signal) {
      const s: SignerContext = {
        db,
        client: options.publicClient,
        account: options.account,
        chainId: chain.chainId,
        from,
        confirmations: options.confirmations,
        stuckAfterMs: options.stuckAfterMs,
        takeoverGraceMs: options.takeoverGraceMs ?? 2_000,
        logger: options.logger,
        metrics: createOutboxMetrics(options.metrics),
        sentHere: new Set(),
        usedElsewhereSince: new Map(),
      }
      const pollMs = Math.min(2_000, Math.max(100, chain.pollingIntervalMs))
      return runSigner(s, signal, waker, pollMs)
    },
  }
}
