/**
 * What the read API should answer, worked out from the chain alone: every log of the Haithe
 * contracts read with viem (eth_getLogs) and decoded with the ABIs, block times from the blocks,
 * and current state from the contracts (balanceOf, owner(), funds(), pricePerCall(),
 * getEnabledProducts()). Nothing here reads the index, so a test comparing the API with this
 * compares the whole pipeline (indexer, SQL, views, HTTP) with the chain.
 *
 * The shapes are the API's views (snake_case, decimal strings, ISO times), so answers compare
 * with toEqual.
 */
import { parseEventLogs, type Address, type Hash, type Log } from 'viem'
import {
  haitheCreatorIdentityAbi, haitheOrchestratorAbi, haitheOrganizationAbi, haitheProductAbi, testUSDTAbi,
} from '../../src/chain/index.js'
import type { CreatorView, OrganizationView, PaymentView, ProductView, TransferView } from '../../src/read/index.js'
import type { DevChain } from './devchain.js'

export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'
export const lower = (address: string) => address.toLowerCase() as Address

/** A log's place in the chain, comparable: (block, log index). */
export interface Placed {
  block_number: number
  log_index: number
  tx_hash: string
  block_time: string
}

export interface ChainTruth {
  /** The head block the truth was read at. */
  head: number
  headTime: Date
  organizations: OrganizationView[]
  creators: CreatorView[]
  products: ProductView[]
  /** Every payment the API lists (charges, model fees, settlements, withdrawals, deposits), oldest first. */
  payments: PaymentView[]
  /** Every tUSDT Transfer, oldest first. */
  transfers: TransferView[]
  /** OrganizationExpenditure logs, oldest first. */
  expenditures: (Placed & { organization: string; amount: bigint })[]
  /** For each block with a log of ours: its time. */
  blockTime(block: number): Date
  /** The transaction hashes that created an organization, product or creator. */
  creations: { organizations: Map<string, Hash>; products: Map<string, Hash>; creators: Map<string, Hash> }
  /** Current owner of each organization according to OrganizationCreated and OwnershipTransferred logs. */
  ownersFromLogs: Map<string, string>
  /** Owners who transferred an organization away (OwnershipTransferred.previousOwner). */
  formerOwners: string[]
  /** How many of the events the market should show some of happened. */
  counts: { priceChanges: number; ownershipTransfers: number; productsDisabled: number }
}

const byPlace = (a: Placed, b: Placed) => a.block_number - b.block_number || a.log_index - b.log_index
const sum = (values: Iterable<bigint>) => { let total = 0n; for (const v of values) total += v; return total }

function totals<T>(items: readonly T[], key: (item: T) => string, value: (item: T) => bigint): (k: string) => bigint {
  const sums = new Map<string, bigint>()
  for (const item of items) sums.set(key(item), (sums.get(key(item)) ?? 0n) + value(item))
  return (k) => sums.get(k) ?? 0n
}

export async function readChainTruth(dev: DevChain): Promise<ChainTruth> {
  const client = dev.publicClient
  const { orchestrator, creatorIdentity, tusdt, startBlock } = dev.deployment
  const head = Number(await client.getBlockNumber({ cacheTime: 0 }))
  const range = { fromBlock: BigInt(startBlock), toBlock: BigInt(head) }
  const read = <T>(address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[] = []) =>
    client.readContract({ address, abi, functionName, args, blockNumber: BigInt(head) } as never) as Promise<T>

  const [orchestratorLogs, identityLogs, tokenLogs] = await Promise.all([orchestrator, creatorIdentity, tusdt].map((address) => client.getLogs({ address, ...range })))
  const orchestratorEvent = <const name extends 'OrganizationCreated' | 'ProductCreated' | 'CreatorRegistered' | 'CreatorPaid' | 'ModelFeePaid' | 'UsageSettled' | 'OrganizationExpenditure'>(eventName: name) =>
    parseEventLogs({ abi: haitheOrchestratorAbi, logs: orchestratorLogs!, eventName, strict: true })
  const orgCreated = orchestratorEvent('OrganizationCreated')
  const productCreated = orchestratorEvent('ProductCreated')
  const registered = orchestratorEvent('CreatorRegistered')
  const paid = orchestratorEvent('CreatorPaid')
  const modelFees = orchestratorEvent('ModelFeePaid')
  const settled = orchestratorEvent('UsageSettled')
  const expenditureLogs = orchestratorEvent('OrganizationExpenditure')
  const withdrawals = parseEventLogs({ abi: haitheCreatorIdentityAbi, logs: identityLogs!, eventName: 'FundsWithdrawn', strict: true })
  const transferLogs = parseEventLogs({ abi: testUSDTAbi, logs: tokenLogs!, eventName: 'Transfer', strict: true })

  const orgAddresses = orgCreated.map((l) => lower(l.args.organization))
  const productAddresses = productCreated.map((l) => lower(l.args.product))
  const [orgLogs, productLogs] = await Promise.all([
    orgAddresses.length ? client.getLogs({ address: orgAddresses, ...range }) : Promise.resolve([]),
    productAddresses.length ? client.getLogs({ address: productAddresses, ...range }) : Promise.resolve([]),
  ])
  const ownership = parseEventLogs({ abi: haitheOrganizationAbi, logs: orgLogs, eventName: 'OwnershipTransferred', strict: true })
  const priceUpdates = parseEventLogs({ abi: haitheProductAbi, logs: productLogs, eventName: 'ProductPriceUpdated', strict: true })
  const disabled = parseEventLogs({ abi: haitheOrganizationAbi, logs: orgLogs, eventName: 'ProductDisabled', strict: true })

  // Block times, for every block holding one of our logs.
  const blocks = [...new Set([...orchestratorLogs!, ...identityLogs!, ...tokenLogs!, ...orgLogs, ...productLogs].map((l) => Number(l.blockNumber)))]
  const times = new Map<number, Date>()
  for (let i = 0; i < blocks.length; i += 25) {
    await Promise.all(blocks.slice(i, i + 25).map(async (number) => {
      const block = await client.getBlock({ blockNumber: BigInt(number) })
      times.set(number, new Date(Number(block.timestamp) * 1000))
    }))
  }
  const headTime = new Date(Number((await client.getBlock({ blockNumber: BigInt(head) })).timestamp) * 1000)
  const blockTime = (block: number) => {
    const time = times.get(block)
    if (!time) throw new Error(`no time known for block ${block}`)
    return time
  }
  const place = (l: Log<bigint, number, false>): Placed => ({
    block_number: Number(l.blockNumber), log_index: l.logIndex, tx_hash: l.transactionHash, block_time: blockTime(Number(l.blockNumber)).toISOString(),
  })
  const before = (a: Placed, b: Placed) => byPlace(a, b) < 0

  // Creators.
  const creatorAddressOf = new Map(registered.map((l) => [String(l.args.tokenId), lower(l.args.creator)]))
  const revenueOf = totals(paid, (l) => String(l.args.creatorId), (l) => l.args.amount)
  const callsOf = totals(paid, (l) => String(l.args.creatorId), (l) => l.args.calls)
  const withdrawnOf = totals(withdrawals, (l) => String(l.args.tokenId), (l) => l.args.amount)
  const creators = await Promise.all(registered.map(async (l): Promise<CreatorView> => {
    const tokenId = String(l.args.tokenId)
    const at = place(l)
    const owner = lower(await read<Address>(creatorIdentity, haitheCreatorIdentityAbi, 'ownerOf', [l.args.tokenId]))
    if (owner !== lower(l.args.creator)) throw new Error(`creator #${tokenId} changed hands; the truth does not model that`)
    return {
      address: lower(l.args.creator), token_id: tokenId, uri: l.args.uri, revenue: String(revenueOf(tokenId)), calls: String(callsOf(tokenId)),
      withdrawn: String(withdrawnOf(tokenId)), claimable: String(await read<bigint>(creatorIdentity, haitheCreatorIdentityAbi, 'funds', [l.args.tokenId])),
      registered_block: at.block_number, registered_tx: at.tx_hash, registered_at: at.block_time,
    }
  }))

  // Organizations: owner from the logs (checked against owner()), enabled products from the contract.
  const ownersFromLogs = new Map<string, string>()
  for (const l of orgCreated) ownersFromLogs.set(lower(l.args.organization), lower(l.args.owner))
  for (const l of [...ownership].sort((a, b) => byPlace(place(a), place(b)))) ownersFromLogs.set(lower(l.address), lower(l.args.newOwner))
  const enabledBy = new Map<string, string[]>()
  const createdAt = new Map(orgCreated.map((l) => [lower(l.args.organization), place(l)]))
  const deposits = transferLogs.filter((l) => {
    const created = createdAt.get(lower(l.args.to))
    return created !== undefined && before(created, place(l))
  })
  const depositedOf = totals(deposits, (l) => lower(l.args.to), (l) => l.args.value)
  const spentOf = totals(expenditureLogs, (l) => lower(l.args.organization), (l) => l.args.amount)
  const orgCallsOf = totals(modelFees, (l) => lower(l.args.organization), (l) => l.args.calls)
  const organizations = await Promise.all(orgCreated.map(async (l): Promise<OrganizationView> => {
    const address = lower(l.args.organization)
    const at = place(l)
    const [owner, enabled, balance] = await Promise.all([
      read<Address>(address, haitheOrganizationAbi, 'owner'),
      read<readonly Address[]>(address, haitheOrganizationAbi, 'getEnabledProducts'),
      read<bigint>(tusdt, testUSDTAbi, 'balanceOf', [address]),
    ])
    if (lower(owner) !== ownersFromLogs.get(address)) throw new Error(`owner() of ${address} is not the last OwnershipTransferred`)
    enabledBy.set(address, enabled.map(lower))
    return {
      address, index: Number(l.args.index), owner: lower(owner), name: l.args.name, balance: String(balance),
      deposited: String(depositedOf(address)), spent: String(spentOf(address)), calls: String(orgCallsOf(address)),
      enabled_product_count: enabled.length, created_block: at.block_number, created_tx: at.tx_hash, created_at: at.block_time,
    }
  }))
  organizations.sort((a, b) => a.index - b.index)

  // Products: the price is the last ProductPriceUpdated (else the creation price), checked against pricePerCall().
  const lastPrice = new Map<string, bigint>()
  for (const l of [...priceUpdates].sort((a, b) => byPlace(place(a), place(b)))) lastPrice.set(lower(l.address), l.args.newPrice)
  const productRevenueOf = totals(paid, (l) => lower(l.args.product), (l) => l.args.amount)
  const productCallsOf = totals(paid, (l) => lower(l.args.product), (l) => l.args.calls)
  const products = await Promise.all(productCreated.map(async (l): Promise<ProductView> => {
    const address = lower(l.args.product)
    const at = place(l)
    const price = lastPrice.get(address) ?? (l.args.pricePerCall)
    const onChain = await read<bigint>(address, haitheProductAbi, 'pricePerCall')
    if (onChain !== price) throw new Error(`pricePerCall() of ${address} is ${onChain}, the logs say ${price}`)
    return {
      address, index: Number(l.args.index), creator: lower(l.args.creator), creator_id: String(l.args.creatorId),
      name: l.args.name, category: l.args.category, uri: l.args.uri, price: String(price),
      enabled_count: [...enabledBy.values()].filter((set) => set.includes(address)).length,
      calls: String(productCallsOf(address)), revenue: String(productRevenueOf(address)),
      created_block: at.block_number, created_tx: at.tx_hash, created_at: at.block_time,
    }
  }))
  products.sort((a, b) => a.index - b.index)

  // Payments, one per log, in chain order.
  const payment = (l: Log<bigint, number, false>, fields: Partial<PaymentView> & Pick<PaymentView, 'kind' | 'amount'>): PaymentView => {
    const at = place(l)
    return {
      tx_hash: at.tx_hash, log_index: at.log_index, block_number: at.block_number, block_time: at.block_time,
      organization: null, creator: null, creator_id: null, product: null, calls: null, batch_id: null, account: null, ...fields,
    }
  }
  const payments: PaymentView[] = [
    ...paid.map((l) => {
      const creatorId = String(l.args.creatorId)
      const product = lower(l.args.product)
      return payment(l, {
        kind: 'charge', organization: lower(l.args.organization), creator: creatorAddressOf.get(creatorId) ?? null, creator_id: creatorId,
        product: product === ZERO_ADDRESS ? null : product, amount: String(l.args.amount), calls: String(l.args.calls),
      })
    }),
    ...modelFees.map((l) => payment(l, { kind: 'model_fee', organization: lower(l.args.organization), amount: String(l.args.amount), calls: String(l.args.calls) })),
    ...settled.map((l) => payment(l, { kind: 'settlement', organization: lower(l.args.organization), amount: String(l.args.total), batch_id: String(l.args.batchId).toLowerCase() })),
    ...withdrawals.map((l) => {
      const creatorId = String(l.args.tokenId)
      return payment(l, { kind: 'withdrawal', creator: creatorAddressOf.get(creatorId) ?? null, creator_id: creatorId, amount: String(l.args.amount), account: lower(l.args.to) })
    }),
    ...deposits.map((l) => payment(l, { kind: 'deposit', organization: lower(l.args.to), amount: String(l.args.value), account: lower(l.args.from) })),
  ].sort((a, b) => byPlace(a, b) || a.kind.localeCompare(b.kind))

  const transfers: TransferView[] = transferLogs.map((l) => {
    const at = place(l)
    return { ...at, from: lower(l.args.from), to: lower(l.args.to), amount: String(l.args.value) }
  }).sort(byPlace)

  const expenditures = expenditureLogs.map((l) => ({ ...place(l), organization: lower(l.args.organization), amount: l.args.amount })).sort(byPlace)

  // Sanity: the market has something of everything the tests look at.
  const count = (kind: PaymentView['kind']) => payments.filter((p) => p.kind === kind).length
  if (sum(paid.map((l) => l.args.amount)) === 0n || count('withdrawal') === 0 || count('deposit') === 0) {
    throw new Error('the simulated market lacks charges, withdrawals or deposits')
  }

  return {
    head, headTime, organizations, creators, products, payments, transfers, expenditures, blockTime, ownersFromLogs,
    formerOwners: [...new Set(ownership.map((l) => lower(l.args.previousOwner)).filter((a) => a !== ZERO_ADDRESS))],
    // The constructor's OwnershipTransferred (from 0) is the creation, not a transfer.
    counts: { priceChanges: priceUpdates.length, ownershipTransfers: ownership.filter((l) => lower(l.args.previousOwner) !== ZERO_ADDRESS).length, productsDisabled: disabled.length },
    creations: {
      organizations: new Map(orgCreated.map((l) => [lower(l.args.organization), l.transactionHash])),
      products: new Map(productCreated.map((l) => [lower(l.args.product), l.transactionHash])),
      creators: new Map(registered.map((l) => [lower(l.args.creator), l.transactionHash])),
    },
  }
}
