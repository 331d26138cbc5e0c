/**
 * One signer per account and chain: the process that signs holds a PostgreSQL session advisory lock on a
 * dedicated connection (src/db's leader election, as the indexer's), and a standby keeps trying.
 * Embedded PGlite belongs to one process, which always signs.
 *
 * The database alone keeps transactions exactly-once (nonces under a row lock, each row claimed
 * under its own row lock), so two signers at once would only duplicate work; the lock avoids it.
 */
import { sql, type Kysely } from 'kysely'
import type { Address } from 'viem'
import { acquireLeadership, databaseKindOf, holdsLeaderLock, type AdvisoryLockKey, type Database } from '../../db/index.js'
import { sleepUnlessAborted, type Logger } from '../../obs/index.js'
import type { TroubleReporter } from './trouble.js'

/**
 * The signer's lock: its own class ("HSIG") and a 31-bit hash of chain and account, since nonces
 * are per account: two server accounts may sign side by side, one account has one signer.
 */
export function signerLock(chainId: number, address: Address): AdvisoryLockKey {
  let hash = 0x811c9dc5
  for (const char of `${chainId}:${address.toLowerCase()}`) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0
  return { lockClass: 0x48534947, key: hash & 0x7fffffff }
}

export interface SignerLeadership {
  /** False once the lock's session has ended (the server restarted it, say): stop signing and elect again. */
  stillHeld(): Promise<boolean>
  release(): Promise<void>
}

/** Waits until this process holds the signer lock; undefined if `signal` aborts first. Database errors are retried. */
export async function leadSigning(
  db: Kysely<Database>,
  options: { chainId: number; address: Address; signal: AbortSignal; logger: Logger; trouble: TroubleReporter; pollMs?: number },
): Promise<SignerLeadership | undefined> {
  const kind = databaseKindOf(db)
  const lock = signerLock(options.chainId, options.address)
  while (!options.signal.aborted) {
    const leadership = acquireLeadership(db, {
      kind,
      ...lock,
      signal: options.signal,
      pollMs: options.pollMs ?? 1000,
      onWaiting: () => options.logger.info('outbox: another process signs for this account; waiting as standby'),
    })
    try {
      await leadership.acquired
    } catch (err) {
      await leadership.release().catch(() => undefined)
      if (options.signal.aborted) return undefined
      options.trouble.failed('taking the signer lock', err)
      await sleepUnlessAborted(Math.min(30_000, 500 * 2 ** Math.min(options.trouble.streak, 6)), options.signal)
      continue
    }
    const pid = leadership.holderPid()
    return {
      async stillHeld() {
        if (pid === undefined) return true
        const { rows } = await sql<{ held: boolean }>`select ${holdsLeaderLock(lock, pid)} as held`.execute(db)
        return rows[0]?.held === true
      },
      release: () => leadership.release(),
    }
  }
  return undefined
}
