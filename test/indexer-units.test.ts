import { encodeAbiParameters, toEventSelector, type Abi, type AbiEvent } from 'viem'
import { describe, expect, it } from 'vitest'
import { BatchChanges, DeltaMap, utcDay, utcHour } from '../indexer/aggregates/changes.js'
import { PaymentColumns, TransferColumns } from '../indexer/aggregates/columns.js'
import { paymentsCopyText, transfersCopyText } from '../indexer/database/copy-text.js'
import { pgArrayLiteral } from '../indexer/database/pg-array.js'
import { applyLogs, topics, type PlacedLog } from '../indexer/handlers/index.js'
import { checkedTopic, dataString, MalformedLogDataError, topicAddress, topicDecimal } from '../indexer/handlers/log.js'
import { describeProgress } from '../indexer/index.js'
import { haitheCreatorIdentityAbi, haitheOrchestratorAbi, haitheOrganizationAbi, haitheProductAbi, testUSDTAbi } from '../src/chain/index.js'

describe('backfill progress line', () => {
  it('shows blocks done of target, events/s and an ETA', () => {
    const p = describeProgress({ fromBlock: 1, toBlock: 1_000_000, doneBlock: 250_000, events: 600_000, elapsedMs: 12_000 })
    expect(p.message).toBe('backfill: block 250,000 of 1,000,000 (25.0%), 50,000 events/s, ETA 0:36')
    expect(p.eventsPerSecond).toBe(50_000)
  })
  it('says the ETA is unknown before the first block, and hours when long', () => {
    expect(describeProgress({ fromBlock: 10, toBlock: 20, doneBlock: 9, events: 0, elapsedMs: 0 }).message).toContain('ETA ?')
    expect(describeProgress({ fromBlock: 1, toBlock: 100, doneBlock: 1, events: 10, elapsedMs: 60_000 }).message).toContain('ETA 1:39:00')
  })
})

describe('PostgreSQL array literal', () => {
  it('joins hex, decimals and nulls', () => {
    expect(pgArrayLiteral(['0xab', null, 12, 2n ** 255n])).toBe(`{0xab,NULL,12,${2n ** 255n}}`)
    expect(pgArrayLiteral([])).toBe('{}')
  })
})

describe('COPY text of a batch', () => {
  it('writes a line per row: tab-separated, nulls as \\N, block times as UTC timestamps', () => {
    const payments = new PaymentColumns()
    const row = { txHash: '0xaa', logIndex: 3, block: 9, time: 1_700_000_000, kind: 'charge' as const, organization: '0x01', creatorId: '4', product: '0x02', amount: 2n ** 255n, calls: 2n, batchId: null, account: null }
    payments.push(row)
    payments.push({ ...row, logIndex: 4, time: 1_700_000_012, kind: 'withdrawal', organization: null, product: null, calls: null, account: '0x03' })
    expect(paymentsCopyText(31337, payments).toString()).toBe(
      `31337\t0xaa\t3\t9\t2023-11-14T22:13:20.000Z\tcharge\t0x01\t4\t0x02\t${2n ** 255n}\t2\t\\N\t\\N\n`
      + '31337\t0xaa\t4\t9\t2023-11-14T22:13:32.000Z\twithdrawal\t\\N\t4\t\\N\t' + `${2n ** 255n}\t\\N\t\\N\t0x03\n`,
    )
    const transfers = new TransferColumns()
    transfers.push({ txHash: '0xbb', logIndex: 0, block: 10, time: 1_700_000_024, from: '0x04', to: '0x05', amount: 7n })
    expect(transfersCopyText(1, transfers).toString()).toBe('1\t0xbb\t0\t10\t2023-11-14T22:13:44.000Z\t0x04\t0x05\t7\n')
    expect(paymentsCopyText(1, new PaymentColumns()).length).toBe(0)
  })
})

describe('deltas and days', () => {
  it('adds per key and field, negative too', () => {
    const map = new DeltaMap(['balance', 'spent'] as const)
    map.add('a', 'balance', 5n)
    map.add('a', 'balance', -2n)
    map.add('b', 'spent', 1n)
    expect(Object.fromEntries(map.entries)).toEqual({ a: { balance: 3n, spent: 0n }, b: { balance: 0n, spent: 1n } })
  })
  it('days are UTC', () => {
    expect(utcDay(0)).toBe('1970-01-01')
    expect(utcDay(1_700_000_000)).toBe('2023-11-14')
  })
  it('hours are UTC, the start of the hour as a timestamptz literal', () => {
    expect(utcHour(0)).toBe('1970-01-01T00:00Z')
    expect(utcHour(1_700_000_000)).toBe('2023-11-14T22:00Z') // 22:13:20 UTC
    expect(utcHour(86_399)).toBe('1970-01-01T23:00Z')
    expect(utcHour(86_400)).toBe('1970-01-02T00:00Z')
    expect(utcHour(1_700_000_000, utcDay(1_700_000_000))).toBe(utcHour(1_700_000_000))
  })
})

describe('event topics', () => {
  /** The contract and event each topic is read from. */
  const topicSources = {
    organizationCreated: ['HaitheOrchestrator', 'OrganizationCreated'],
    productCreated: ['HaitheOrchestrator', 'ProductCreated'],
    creatorRegistered: ['HaitheOrchestrator', 'CreatorRegistered'],
    organizationExpenditure: ['HaitheOrchestrator', 'OrganizationExpenditure'],
    creatorPaid: ['HaitheOrchestrator', 'CreatorPaid'],
    modelFeePaid: ['HaitheOrchestrator', 'ModelFeePaid'],
    usageSettled: ['HaitheOrchestrator', 'UsageSettled'],
    productEnabled: ['HaitheOrganization', 'ProductEnabled'],
    productDisabled: ['HaitheOrganization', 'ProductDisabled'],
    ownershipTransferred: ['HaitheOrganization', 'OwnershipTransferred'],
    productPriceUpdated: ['HaitheProduct', 'ProductPriceUpdated'],
    fundsWithdrawn: ['HaitheCreatorIdentity', 'FundsWithdrawn'],
    transfer: ['TestUSDT', 'Transfer'],
  } as const satisfies Record<keyof typeof topics, readonly [string, string]>
  const abis: Record<string, Abi> = {
    HaitheOrchestrator: haitheOrchestratorAbi, HaitheOrganization: haitheOrganizationAbi, HaitheProduct: haitheProductAbi,
    HaitheCreatorIdentity: haitheCreatorIdentityAbi, TestUSDT: testUSDTAbi,
  }
  it.each(Object.entries(topicSources))('%s is the selector of its event in the contract ABI', (key, [contract, event]) => {
    const item = abis[contract]!.find((x): x is AbiEvent => x.type === 'event' && x.name === event)
    expect(item, `${contract}.${event}`).toBeDefined()
    expect(topics[key as keyof typeof topics]).toBe(toEventSelector(item!))
  })
})

describe('values read from topics', () => {
  it('are hex or decimal; a topic that is not 32 bytes of hex is refused with a named error, before it can reach COPY text', () => {
    const address = `0x${'0'.repeat(24)}${'Ab'.repeat(20)}`
    expect(topicAddress(address)).toBe(`0x${'ab'.repeat(20)}`)
    expect(topicDecimal(`0x${'0'.repeat(62)}ff`)).toBe('255')
    for (const bad of [`0x${'0'.repeat(24)}${'ab'.repeat(19)}\n1`, `0x${'0'.repeat(24)}${'ab'.repeat(19)}\t1`, '0x12', undefined]) {
      expect(() => topicAddress(bad)).toThrow(MalformedLogDataError)
      expect(() => checkedTopic(bad)).toThrow(/is not 32 bytes of hex/)
    }
  })
})

describe('ABI strings in log data', () => {
  const encode = (...values: string[]) => encodeAbiParameters([...values.map(() => ({ type: 'string' })), { type: 'uint256' }], [...values, 7n])
  it('reads each string of the data, as viem encodes them', () => {
    const values = ['', 'Acme', 'Ünïcødé 🚀 組織', 'x'.repeat(100)]
    const data = encode(...values)
    expect(values.map((_, i) => dataString(data, i))).toEqual(values)
  })
  it('drops NUL characters, which a PostgreSQL text column cannot hold', () => {
    expect(dataString(encode('a\u0000b'), 0)).toBe('ab')
  })
  it('refuses data too short for its offsets or lengths, with a named error', () => {
    const data = encode('hello')
    expect(() => dataString('0x', 0)).toThrow(MalformedLogDataError)
    expect(() => dataString(data.slice(0, data.length - 64), 0)).toThrow(/ends inside a string of 5 bytes/)
  })
})

describe('handlers', () => {
  const word = (n: bigint) => n.toString(16).padStart(64, '0')
  const addr = (a: string) => `0x${'0'.repeat(24)}${a.slice(2)}`
  const orchestrator = '0x' + '1'.repeat(40)
  const tusdt = '0x' + '2'.repeat(40)
  const org = '0x' + '3'.repeat(40)
  const owner = '0x' + '4'.repeat(40)
  const log = (address: string, t: string[], data: string, logIndex: number): PlacedLog => ({
    raw: { address, topics: t, data },
    block: 5, logIndex, txHash: '0xaa', time: 86_400,
  })

  it('knows an organization created later in the same range, and counts its deposit', () => {
    const known = { orchestrator, creatorIdentity: '0x' + '5'.repeat(40), tusdt, organizations: new Set<string>(), products: new Set<string>() }
    const changes = new BatchChanges()
    // The organization's constructor event comes before the factory's OrganizationCreated.
    const nameData = '0x' + word(64n) + word(7n) + word(4n) + Buffer.from('Acme').toString('hex').padEnd(64, '0')
    applyLogs([
      log(org, [topics.ownershipTransferred, addr('0x' + '0'.repeat(40)), addr(owner)], '0x', 0),
      log(orchestrator, [topics.organizationCreated, addr(org), addr(owner)], nameData, 1),
      log(tusdt, [topics.transfer, addr(owner), addr(org)], '0x' + word(1000n), 2),
    ], changes, known)
    expect(changes.events).toBe(3)
    expect(changes.newOrganizations).toMatchObject([{ address: org, owner, name: 'Acme', index: 7n }])
    expect(changes.owners.get(org)).toBe(owner)
    expect(changes.organizations.entries.get(org)).toMatchObject({ deposited: 1000n })
    expect(changes.balances.entries.get(org)).toEqual({ balance: 1000n })
    expect(changes.payments.rows()).toMatchObject([{ kind: 'deposit', organization: org, amount: 1000n, account: owner }])
    expect(changes.marketDaily.size).toBe(0)
    expect(utcDay(86_400)).toBe('1970-01-02')
  })
})
