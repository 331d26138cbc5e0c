/**
 * What the signer says when something fails: one line without secrets, and a reporter that
 * logs a persisting failure at most once a minute instead of on every retry.
 */
import { BaseError } from 'viem'
import type { Logger } from '../../obs/index.js'

/**
 * One line describing `err`. viem's messages repeat the request (for eth_sendRawTransaction,
 * the whole signed transaction), so only its short message and the node's details are used,
 * and any long hex is cut.
 */
export function describeError(err: unknown): string {
  let text: string
  if (err instanceof BaseError) text = (err.details && err.details !== err.shortMessage ? `${err.shortMessage} ${err.details}` : err.shortMessage) || err.name
  else if (err instanceof Error) text = err.message || err.name
  else text = String(err)
  return text.replace(/0x[0-9a-fA-F]{132,}/g, (hex) => `${hex.slice(0, 10)}…(${(hex.length - 2) / 2} bytes)`).replace(/\s+/g, ' ').trim().slice(0, 500)
}

export interface TroubleReporter {
  /** A failed round: logged now if nothing was logged for a minute, otherwise counted. */
  failed(what: string, err: unknown): void
  /** A round that worked: says so once if failures were reported. */
  recovered(): void
  /** Failures in a row so far (for the backoff). */
  readonly streak: number
}

export function createTroubleReporter(logger: Logger, everyMs = 60_000, now = () => Date.now()): TroubleReporter {
  let lastLogged = -Infinity
  let unlogged = 0
  let streak = 0
  let reported = false
  return {
    failed(what, err) {
      streak += 1
      if (now() - lastLogged < everyMs) {
        unlogged += 1
        return
      }
      logger.warn({ reason: describeError(err), failuresSinceLastLog: unlogged + 1, failuresInARow: streak }, `outbox: ${what} failed; retrying`)
      lastLogged = now()
      unlogged = 0
      reported = true
    },
    recovered() {
      if (reported) logger.info({ failuresInARow: streak }, 'outbox: working again')
      reported = false
      streak = 0
      unlogged = 0
      lastLogged = -Infinity
    },
    get streak() {
      return streak
    },
  }
}
