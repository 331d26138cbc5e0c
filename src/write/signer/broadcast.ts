/**
 * Sending a stored signed transaction to the node. Sending the same bytes again is harmless,
 * so a restart re-sends every pending transaction; what the node answers only says what to
 * look at next (the receipts decide what happened).
 */
import { BaseError, type Hex } from 'viem'
import type { ChainPublicClient } from '../../chain/index.js'

export type BroadcastOutcome =
  /** Accepted into the node's pool. */
  | 'sent'
  /** The node has it already (sent before a restart, say). */
  | 'known'
  /** The nonce is used: by this transaction or another attempt of it (mined), or by someone else. */
  | 'nonce-used'
  /** Another transaction with this nonce is in the pool and pays as much or more. */
  | 'underpriced'

const known = /already known|already imported|known transaction|alreadyknown|already exists|already in (the )?(mem)?pool/i
const nonceUsed = /nonce too low|noncetoolow|nonce.*(already (been )?used|has already been used)|invalid nonce/i
const underpriced = /underpriced|fee too low|replacement.*(low|insufficient)/i

function nodeSaid(err: unknown): string {
  if (!(err instanceof BaseError)) return err instanceof Error ? err.message : String(err)
  const parts: string[] = []
  err.walk((e) => {
    if (e instanceof BaseError) parts.push(e.details ?? '', e.shortMessage)
    return false
  })
  return parts.join(' ')
}

/** Sends `raw`; throws for anything that is not one of the outcomes above (the node is unreachable, say). */
export async function broadcast(client: ChainPublicClient, raw: Hex): Promise<BroadcastOutcome> {
  try {
    await client.sendRawTransaction({ serializedTransaction: raw })
    return 'sent'
  } catch (err) {
    const said = nodeSaid(err)
    if (known.test(said)) return 'known'
    if (nonceUsed.test(said)) return 'nonce-used'
    if (underpriced.test(said)) return 'underpriced'
    throw err
  }
}
