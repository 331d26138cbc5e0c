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
  /** What the handlers read of the log (the node's other fields are not kept: see placeLogs). */
  raw: Pick<RawLog, 'address' | 'topics' | 'data'>
  block: number
  logIndex: number
  txHash: string
  /** Block timestamp, seconds. */
  time: number
}

const TOPIC = /^0x[0-9a-fA-F]{64}$/

/**
 * The topic, checked to be 32 bytes of hex: what is read from it is written to the database as
 * COPY text and array literals, which hold only values that need no escaping.
 */
export function checkedTopic(topic: string | undefined): string {
  if (topic === undefined || !TOPIC.test(topic)) throw new MalformedLogDataError(`log topic ${JSON.stringify(topic?.slice(0, 80))} is not 32 bytes of hex`)
  return topic
}

/**
 * A topic decoder that remembers its answers: the same organizations, products and creators recur
 * in most logs, and one string per value also makes the maps keyed by it cheaper (its hash is
 * computed once). Bounded, as wallets are not.
 */
function memoized(decode: (topic: string) => string): (topic: string | undefined) => string {
  const decoded = new Map<string, string>()
  return (topic) => {
    let value = decoded.get(topic!)
    if (value === undefined) {
      value = decode(checkedTopic(topic))
      if (decoded.size >= 10_000) decoded.clear()
      decoded.set(topic!, value)
    }
    return value
  }
}

/** An address stored in a 32-byte topic, lowercased. */
export const topicAddress = memoized((topic) => `0x${topic.slice(26).toLowerCase()}`)

/** The unsigned integer in a topic, in decimal (a creator's token id). */
export const topicDecimal = memoized((topic) => BigInt(topic).toString())

/** The `index`-th 32-byte word of the data as an unsigned integer. */
export const dataWord = (data: string, index: number): bigint => BigInt(`0x${data.slice(2 + 64 * index, 66 + 64 * index)}`)

export const topicWord = (topic: string | undefined): bigint => BigInt(topic!)

export class MalformedLogDataError extends Error {
  override name = 'MalformedLogDataError'
}

/**
 * The ABI-encoded `string` whose offset is the `index`-th word of the data, as UTF-8 (invalid
 * bytes become U+FFFD) without NUL characters, which a PostgreSQL text column cannot hold.
 */
export function dataString(data: string, index: number): string {
  const hex = data.slice(2)
  const word = (at: number) => {
    if (at + 64 > hex.length) throw new MalformedLogDataError(`log data of ${hex.length / 2} bytes has no word at byte ${at / 2}; expected an ABI-encoded string`)
    return Number(BigInt(`0x${hex.slice(at, at + 64)}`))
  }
  const offset = word(64 * index) * 2
  const length = word(offset) * 2
  const start = offset + 64
  if (start + length > hex.length) throw new MalformedLogDataError(`log data of ${hex.length / 2} bytes ends inside a string of ${length / 2} bytes`)
  return Buffer.from(hex.slice(start, start + length), 'hex').toString('utf8').replaceAll('\u0000', '')
}

export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'

/** Canonical order of events: block, then position in the block. */
export const compareLogs = (a: PlacedLog, b: PlacedLog) => a.block - b.block || a.logIndex - b.logIndex
