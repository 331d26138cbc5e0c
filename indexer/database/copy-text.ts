/**
 * A batch's appended rows as COPY text (see src/db/copy-in.ts): a tab between fields, a newline
 * after each row, `\N` for null. Like pgArrayLiteral, for values that never need escaping, all
 * ASCII: 0x-hex (checked where logs come in and where topics are read), decimal integers,
 * timestamps and fixed words. Each row is written into one buffer as it is made: one string of the
 * whole batch, made of a million pieces, cost twice as much to build, flatten and encode.
 */
import type { PaymentColumns, TransferColumns } from '../aggregates/columns.js'

export const PAYMENT_COLUMNS = [
  'chain_id', 'tx_hash', 'log_index', 'block_number', 'block_time', 'kind', 'organization', 'creator_id', 'product', 'amount', 'calls', 'batch_id', 'account',
] as const

export const TRANSFER_COLUMNS = ['chain_id', 'tx_hash', 'log_index', 'block_number', 'block_time', 'from_address', 'to_address', 'amount'] as const

/** A nullable column's value (an index past the end reads as undefined: it never is). */
const field = (v: string | bigint | null | undefined) => (v == null ? '\\N' : v)

/** Block times as timestamps; a batch's rows share few of them, mostly in a row. */
function timestamps(): (seconds: number) => string {
  let last = Number.NaN
  let text = ''
  return (seconds) => {
    if (seconds !== last) {
      last = seconds
      text = new Date(seconds * 1000).toISOString()
    }
    return text
  }
}

/** ASCII lines written one after another into a buffer that grows as needed. */
class Lines {
  #bytes: Buffer
  #length = 0
  constructor(expected: number) {
    this.#bytes = Buffer.allocUnsafe(Math.max(64, expected))
  }
  add(line: string): void {
    if (this.#length + line.length > this.#bytes.length) {
      const bigger = Buffer.allocUnsafe(2 * (this.#length + line.length))
      this.#bytes.copy(bigger, 0, 0, this.#length)
      this.#bytes = bigger
    }
    this.#length += this.#bytes.write(line, this.#length, 'latin1')
  }
  get bytes(): Buffer {
    return this.#bytes.subarray(0, this.#length)
  }
}

export function paymentsCopyText(chainId: number, p: PaymentColumns): Buffer {
  const time = timestamps()
  const out = new Lines(p.length * 300)
  for (let i = 0; i < p.length; i++) {
    out.add(`${chainId}\t${p.txHash[i]}\t${p.logIndex[i]}\t${p.block[i]}\t${time(p.time[i]!)}\t${p.kind[i]}\t${field(p.organization[i])}\t${field(p.creatorId[i])}\t${field(p.product[i])}\t${p.amount[i]}\t${field(p.calls[i])}\t${field(p.batchId[i])}\t${field(p.account[i])}\n`)
  }
  return out.bytes
}

export function transfersCopyText(chainId: number, t: TransferColumns): Buffer {
  const time = timestamps()
  const out = new Lines(t.length * 250)
  for (let i = 0; i < t.length; i++) {
    out.add(`${chainId}\t${t.txHash[i]}\t${t.logIndex[i]}\t${t.block[i]}\t${time(t.time[i]!)}\t${t.from[i]}\t${t.to[i]}\t${t.amount[i]}\n`)
  }
  return out.bytes
}
