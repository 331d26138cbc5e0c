/**
 * Logs as the RPC returns them (hex strings, untouched), and the small, fast readers the
 * handlers use instead of a generic ABI decoder: fixed-size fields are sliced from the hex.
 */
export interface RawLog {
  address: string
  topics: string[]
  data: string
  blockNumber: string
  blockHash: string
  transactionHash: string
  logIndex: string
  /** Some nodes (anvil, reth, geth ≥ 1.15) include the block's timestamp in eth_getLogs. */
  blockTimestamp?: string
  removed?: boolean
}

/** A log placed in the chain: what every handler receives. */
export interface PlacedLog {
  raw: RawLog
  block: number
  logIndex: number
  txHash: string
  /** Block timestamp, seconds. */
  time: number
}

/** An address stored in a 32-byte topic, lowercased. */
export const topicAddress = (topic: string | undefined): string => `0x${topic!.slice(26).toLowerCase()}`

/** The `index`-th 32-byte word of the data as an unsigned integer. */
export const dataWord = (data: string, index: number): bigint => BigInt(`0x${data.slice(2 + 64 * index, 66 + 64 * index)}`)

export const topicWord = (topic: string | undefined): bigint => BigInt(topic!)

export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'

/** Canonical order of events: block, then position in the block. */
export const compareLogs = (a: PlacedLog, b: PlacedLog) => a.block - b.block || a.logIndex - b.logIndex
