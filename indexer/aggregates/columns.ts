/**
 * A batch's appended rows (payments, transfers) kept as columns: a row costs no object of its own
 * while the batch waits for its commit (tens of thousands of them, which the garbage collector
 * would copy and promote), and each column goes to the database as one array, as it is.
 */
import type { PaymentKind } from '../../src/db/index.js'

export interface PaymentRow {
  txHash: string; logIndex: number; block: number; time: number; kind: PaymentKind; organization: string | null
  /** Decimal. */
  creatorId: string | null; product: string | null; amount: bigint; calls: bigint | null; batchId: string | null; account: string | null
}

export interface TransferRow { txHash: string; logIndex: number; block: number; time: number; from: string; to: string; amount: bigint }

export class PaymentColumns {
  readonly txHash: string[] = []
  readonly logIndex: number[] = []
  readonly block: number[] = []
  readonly time: number[] = []
  readonly kind: PaymentKind[] = []
  readonly organization: (string | null)[] = []
  readonly creatorId: (string | null)[] = []
  readonly product: (string | null)[] = []
  readonly amount: bigint[] = []
  readonly calls: (bigint | null)[] = []
  readonly batchId: (string | null)[] = []
  readonly account: (string | null)[] = []

  push(row: PaymentRow): void {
    this.txHash.push(row.txHash)
    this.logIndex.push(row.logIndex)
    this.block.push(row.block)
    this.time.push(row.time)
    this.kind.push(row.kind)
    this.organization.push(row.organization)
    this.creatorId.push(row.creatorId)
    this.product.push(row.product)
    this.amount.push(row.amount)
    this.calls.push(row.calls)
    this.batchId.push(row.batchId)
    this.account.push(row.account)
  }

  get length(): number {
    return this.txHash.length
  }

  /** The rows as objects (for tests and diagnostics). */
  rows(): PaymentRow[] {
    return this.txHash.map((txHash, i) => ({
      txHash, logIndex: this.logIndex[i]!, block: this.block[i]!, time: this.time[i]!, kind: this.kind[i]!, organization: this.organization[i]!,
      creatorId: this.creatorId[i]!, product: this.product[i]!, amount: this.amount[i]!, calls: this.calls[i]!, batchId: this.batchId[i]!, account: this.account[i]!,
    }))
  }
}

export class TransferColumns {
  readonly txHash: string[] = []
  readonly logIndex: number[] = []
  readonly block: number[] = []
  readonly time: number[] = []
  readonly from: string[] = []
  readonly to: string[] = []
  readonly amount: bigint[] = []

  push(row: TransferRow): void {
    this.txHash.push(row.txHash)
    this.logIndex.push(row.logIndex)
    this.block.push(row.block)
    this.time.push(row.time)
    this.from.push(row.from)
    this.to.push(row.to)
    this.amount.push(row.amount)
  }

  get length(): number {
    return this.txHash.length
  }
}
