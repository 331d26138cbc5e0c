/**
 * The logs of a block range (or of one block, by hash): the fixed contracts' logs by address,
 * and the factory children's events by topic with no address list — the list of 10,000+
 * organizations is not sent; the handlers keep what comes from known children.
 */
import type { PlacedLog, RawLog } from '../handlers/index.js'
import { childTopics } from '../handlers/index.js'
import type { RpcClient } from './rpc.js'

export interface LogSources {
  /** The orchestrator, the identity NFT and tUSDT (lowercase). */
  fixed: string[]
}

const hex = (n: number) => `0x${n.toString(16)}`
const HEX = /^0x[0-9a-f]+$/

export class MalformedLogError extends Error {
  override name = 'MalformedLogError'
}

type Filter = { fromBlock: string; toBlock: string } | { blockHash: string }

export async function fetchLogs(rpc: RpcClient, sources: LogSources, filter: Filter): Promise<RawLog[]> {
  const [own, children] = await Promise.all([
    rpc.request<RawLog[]>('eth_getLogs', [{ ...filter, address: sources.fixed }]),
    rpc.request<RawLog[]>('eth_getLogs', [{ ...filter, topics: [childTopics] }]),
  ])
  const fixed = new Set(sources.fixed)
  // The fixed contracts' own OwnershipTransferred events also match the child topics: keep one copy.
  return own.concat(children.filter((log) => !fixed.has(log.address.toLowerCase())))
}

export const rangeFilter = (from: number, to: number) => ({ fromBlock: hex(from), toBlock: hex(to) })

/**
 * Logs in canonical order with their block times. Nodes that put `blockTimestamp` in logs
 * save a request; otherwise the times of the blocks that have logs are fetched in one batch.
 */
export async function placeLogs(rpc: RpcClient, logs: RawLog[], knownTimes?: Map<number, number>): Promise<PlacedLog[]> {
  const times = new Map<number, number>(knownTimes)
  const missing = new Set<number>()
  const placed = logs
    .filter((raw) => !raw.removed)
    .map((raw) => {
      raw.address = raw.address.toLowerCase()
      raw.transactionHash = raw.transactionHash.toLowerCase()
      // These go into the database as they are: refuse anything but hex from the node.
      if (!HEX.test(raw.address) || !HEX.test(raw.transactionHash)) throw new MalformedLogError(`the RPC returned a malformed log (address ${raw.address.slice(0, 42)})`)
      const block = Number.parseInt(raw.blockNumber, 16)
      if (raw.blockTimestamp) times.set(block, Number.parseInt(raw.blockTimestamp, 16))
      else if (!times.has(block)) missing.add(block)
      // A new, smaller object: the node's log (block hash, hex numbers) dies young instead of waiting
      // with its range to be applied (a quarter less scavenging in bench:indexer).
      return { raw: { address: raw.address, topics: raw.topics, data: raw.data }, block, logIndex: Number.parseInt(raw.logIndex, 16), txHash: raw.transactionHash, time: 0 }
    })
  if (missing.size > 0) {
    const numbers = [...missing]
    const blocks = await rpc.batch<{ timestamp: string } | null>(numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [hex(n), false] })))
    numbers.forEach((n, i) => {
      const block = blocks[i]
      if (!block) throw new Error(`the node does not know block ${n} that has logs; it may be behind: retrying`)
      times.set(n, Number.parseInt(block.timestamp, 16))
    })
  }
  for (const log of placed) log.time = times.get(log.block)!
  return placed.sort((a, b) => a.block - b.block || a.logIndex - b.logIndex)
}
