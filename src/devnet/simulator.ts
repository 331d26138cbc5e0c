/**
 * The market simulator: a seeded stream of marketplace activity on a local chain. Creators
 * register and publish products of every category; owners create and fund organizations,
 * enable and disable products; creators reprice; the server settles usage in batches;
 * creators withdraw. Decisions depend only on the seed and the simulator's own state, so the
 * same seed on a fresh chain gives the same activity.
 */
import { encodePacked, formatUnits, keccak256, parseEventLogs, parseUnits, type Address, type TransactionReceipt } from 'viem'
import type { Logger } from 'pino'
import { haitheCreatorIdentityAbi, haitheOrchestratorAbi, haitheOrganizationAbi, haitheProductAbi, testUSDTAbi } from '../chain/index.js'
import type { SimulatorWeights } from '../config/index.js'
import type { MarketChain } from './market-chain.js'
import { loadMarketState } from './market-loader.js'
import { productCategories, type MarketState, type SimCreator, type SimOrganization, type SimProduct } from './market-state.js'
import { createRandom, type Random } from './random.js'
import { deriveWallet, type SimWallet } from './wallets.js'
import { sleepUnlessAborted } from '../obs/index.js'

export type SimulatorAction = keyof SimulatorWeights

export interface ActionOutcome {
  action: SimulatorAction
  summary: string
  transactions: number
  events: number
  block: bigint
}

export interface MarketSimulatorOptions {
  chain: MarketChain
  seed: number
  weights: SimulatorWeights
  logger?: Logger
  /** Model fee per call in a settlement (base units); default 0.0001 tUSDT as gemini-2.0-flash-lite. */
  modelFeePerCall?: bigint
}

const tusdt = (amount: string) => parseUnits(amount, 18)
const show = (amount: bigint) => `${formatUnits(amount, 18)} tUSDT`
const short = (address: Address) => `${address.slice(0, 8)}…`
const productPrices = ['0.0001', '0.0002', '0.0005', '0.001', '0.002', '0.005'].map(tusdt)
const ownerStartingFunds = tusdt('5000')
const orgNames = ['Acme Labs', 'Blue Harbor', 'Cobalt AI', 'Delta Works', 'Evergreen', 'Fjord Systems', 'Granite Data', 'Helix Health']
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

export async function createMarketSimulator(options: MarketSimulatorOptions) {
  const { chain, seed, weights } = options
  const { orchestrator, tusdt: token, creatorIdentity } = chain.deployment
  const modelFeePerCall = options.modelFeePerCall ?? tusdt('0.0001')
  const startBlock = await chain.publicClient.getBlockNumber({ cacheTime: 0 })
  const state: MarketState = await loadMarketState(chain, seed)
  const random: Random = createRandom((seed ^ Math.imul(Number(startBlock), 0x9e3779b1)) >>> 0)
  const totals = { actions: 0, transactions: 0, events: 0 }

  /** Runs transactions in order and sums what they did. */
  async function outcome(action: SimulatorAction, summary: string, receipts: TransactionReceipt[]): Promise<ActionOutcome> {
    const events = receipts.reduce((n, r) => n + r.logs.length, 0)
    totals.actions += 1
    totals.transactions += receipts.length
    totals.events += events
    return { action, summary, transactions: receipts.length, events, block: receipts.at(-1)?.blockNumber ?? 0n }
  }

  async function newWallet(role: 'creator' | 'owner', index: number): Promise<SimWallet> {
    const wallet = deriveWallet(seed, role, index)
    await chain.fundGas(wallet.address)
    return wallet
  }

  async function serverPaysOwner(owner: SimWallet, amount: bigint): Promise<TransactionReceipt> {
    const receipt = await chain.confirm(
      chain.server.writeContract({ address: token, abi: testUSDTAbi, functionName: 'transfer', args: [owner.address, amount] }),
      'tUSDT transfer to an owner',
    )
    state.ownerBalances.set(owner.address, (state.ownerBalances.get(owner.address) ?? 0n) + amount)
    return receipt
  }

  async function ownerFunds(org: SimOrganization, amount: bigint): Promise<TransactionReceipt[]> {
    const receipts: TransactionReceipt[] = []
    if ((state.ownerBalances.get(org.owner.address) ?? 0n) < amount) receipts.push(await serverPaysOwner(org.owner, amount + ownerStartingFunds))
    receipts.push(
      await chain.confirm(
        chain.walletFor(org.owner).writeContract({ address: token, abi: testUSDTAbi, functionName: 'transfer', args: [org.address, amount] }),
        `funding ${org.name}`,
      ),
    )
    state.ownerBalances.set(org.owner.address, state.ownerBalances.get(org.owner.address)! - amount)
    org.balance += amount
    return receipts
  }

  const notEnabled = (org: SimOrganization) => state.products.filter((p) => !org.enabled.includes(p.address))

  const actions: Record<SimulatorAction, { feasible(): boolean; run(): Promise<ActionOutcome> }> = {
    registerCreator: {
      feasible: () => true,
      async run() {
        const index = state.creators.length
        const wallet = await newWallet('creator', index)
        const uri = `ipfs://haithe-sim/creators/${seed}/${index}`
        const receipt = await chain.confirm(
          chain.server.writeContract({
            address: orchestrator,
            abi: haitheOrchestratorAbi,
            functionName: 'registerAsCreator',
            args: [wallet.address, uri, keccak256(encodePacked(['address'], [wallet.address])), `sim-pubkey-${index}`],
          }),
          'registerAsCreator',
        )
        const [registered] = parseEventLogs({ abi: haitheOrchestratorAbi, eventName: 'CreatorRegistered', logs: receipt.logs })
        const creator: SimCreator = { wallet, tokenId: registered!.args.tokenId, funds: 0n }
        state.creators.push(creator)
        return outcome('registerCreator', `creator #${creator.tokenId} registered (${short(wallet.address)})`, [receipt])
      },
    },

    publishProduct: {
      feasible: () => state.creators.length > 0,
      async run() {
        const creator = random.pick(state.creators)
        const n = state.productsOnChain
        // The first products cover every category once; then categories are drawn at random.
        const category = n < productCategories.length ? productCategories[n]! : random.pick(productCategories)
        const price = random.pick(productPrices)
        const name = `${category} #${n + 1} (seed ${seed})`
        const receipt = await chain.confirm(
          chain.walletFor(creator.wallet).writeContract({
            address: orchestrator,
            abi: haitheOrchestratorAbi,
            functionName: 'addProduct',
            args: [name, `ipfs://haithe-sim/products/${seed}/${n}`, `iv-${n}`, `sealed-key-${n}`, category, price],
          }),
          'addProduct',
        )
        const [created] = parseEventLogs({ abi: haitheOrchestratorAbi, eventName: 'ProductCreated', logs: receipt.logs })
        const product: SimProduct = { address: created!.args.product, creator, category, price }
        state.products.push(product)
        state.productsOnChain += 1
        return outcome('publishProduct', `product "${name}" published at ${show(price)}/call`, [receipt])
      },
    },

    createOrganization: {
      feasible: () => true,
      async run() {
        const owner = await newWallet('owner', state.owners.length)
        state.owners.push(owner)
        const receipts = [await serverPaysOwner(owner, ownerStartingFunds)]
        // Names are unique on chain: the number is the organization's position in the market.
        const name = `${random.pick(orgNames)} ${state.organizationsOnChain + 1} (seed ${seed})`
        const receipt = await chain.confirm(
          chain.walletFor(owner).writeContract({ address: orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: [name] }),
          'createOrganization',
        )
        receipts.push(receipt)
        const [created] = parseEventLogs({ abi: haitheOrchestratorAbi, eventName: 'OrganizationCreated', logs: receipt.logs })
        const org: SimOrganization = { address: created!.args.organization, name, owner, balance: 0n, enabled: [] }
        state.organizations.push(org)
        state.organizationsOnChain += 1
        receipts.push(...(await ownerFunds(org, tusdt(String(random.int(200, 2000))))))
        return outcome('createOrganization', `${name} created by ${short(owner.address)} and funded with ${show(org.balance)}`, receipts)
      },
    },

    fundOrganization: {
      feasible: () => state.organizations.length > 0,
      async run() {
        const org = random.pick(state.organizations)
        const amount = tusdt(String(random.int(100, 2000)))
        return outcome('fundOrganization', `${org.name} funded with ${show(amount)}`, await ownerFunds(org, amount))
      },
    },

    enableProduct: {
      feasible: () => state.organizations.some((org) => notEnabled(org).length > 0),
      async run() {
        const org = random.pick(state.organizations.filter((o) => notEnabled(o).length > 0))
        const product = random.pick(notEnabled(org))
        const receipt = await chain.confirm(
          chain.walletFor(org.owner).writeContract({ address: org.address, abi: haitheOrganizationAbi, functionName: 'enableProduct', args: [product.address] }),
          'enableProduct',
        )
        org.enabled.push(product.address)
        return outcome('enableProduct', `${org.name} enabled ${product.category} product ${short(product.address)}`, [receipt])
      },
    },

    disableProduct: {
      feasible: () => state.organizations.some((org) => org.enabled.length > 0),
      async run() {
        const org = random.pick(state.organizations.filter((o) => o.enabled.length > 0))
        const product = random.pick(org.enabled)
        const receipt = await chain.confirm(
          chain.walletFor(org.owner).writeContract({ address: org.address, abi: haitheOrganizationAbi, functionName: 'disableProduct', args: [product] }),
          'disableProduct',
        )
        org.enabled = org.enabled.filter((p) => p !== product)
        return outcome('disableProduct', `${org.name} disabled product ${short(product)}`, [receipt])
      },
    },

    changePrice: {
      feasible: () => state.products.length > 0,
      async run() {
        const product = random.pick(state.products)
        const price = random.pick(productPrices.filter((p) => p !== product.price))
        const receipt = await chain.confirm(
          chain.walletFor(product.creator.wallet).writeContract({ address: product.address, abi: haitheProductAbi, functionName: 'setPricePerCall', args: [price] }),
          'setPricePerCall',
        )
        const old = product.price
        product.price = price
        return outcome('changePrice', `product ${short(product.address)} repriced ${show(old)} → ${show(price)}`, [receipt])
      },
    },

    settleUsage: {
      feasible: () => state.organizations.some((org) => org.enabled.length > 0),
      async run() {
        const org = random.pick(state.organizations.filter((o) => o.enabled.length > 0))
        const calls = random.int(1, 40)
        const lines = org.enabled.map((address) => {
          const product = state.products.find((p) => p.address === address)!
          const productCalls = random.int(1, calls)
          return { product, calls: BigInt(productCalls), amount: product.price * BigInt(productCalls) }
        })
        const modelFee = modelFeePerCall * BigInt(calls)
        const total = lines.reduce((sum, l) => sum + l.amount, modelFee)
        const receipts = org.balance < total ? await ownerFunds(org, total + tusdt('500')) : []
        const batchId = keccak256(encodePacked(['string', 'uint256', 'uint256', 'uint256'], ['haithe-sim-batch', BigInt(seed), startBlock, BigInt(state.batches)]))
        receipts.push(
          await chain.confirm(
            chain.server.writeContract({
              address: orchestrator,
              abi: haitheOrchestratorAbi,
              functionName: 'settleUsage',
              args: [org.address, batchId, lines.map((l) => l.product.address), lines.map((l) => l.amount), lines.map((l) => l.calls), modelFee, BigInt(calls)],
            }),
            'settleUsage',
          ),
        )
        state.batches += 1
        org.balance -= total
        for (const line of lines) line.product.creator.funds += line.amount
        return outcome('settleUsage', `${org.name} settled ${plural(calls, 'call')} over ${plural(lines.length, 'product')}: ${show(total)}`, receipts)
      },
    },

    withdrawFunds: {
      feasible: () => state.creators.some((c) => c.funds > 0n),
      async run() {
        const creator = random.pick(state.creators.filter((c) => c.funds > 0n))
        const receipt = await chain.confirm(
          chain.walletFor(creator.wallet).writeContract({ address: creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'withdrawFunds', args: [creator.tokenId] }),
          'withdrawFunds',
        )
        const amount = creator.funds
        creator.funds = 0n
        return outcome('withdrawFunds', `creator #${creator.tokenId} withdrew ${show(amount)}`, [receipt])
      },
    },

    transferOwnership: {
      feasible: () => state.organizations.length > 0,
      async run() {
        const org = random.pick(state.organizations)
        const newOwner = await newWallet('owner', state.owners.length)
        state.owners.push(newOwner)
        const receipt = await chain.confirm(
          chain.walletFor(org.owner).writeContract({ address: org.address, abi: haitheOrganizationAbi, functionName: 'transferOwnership', args: [newOwner.address] }),
          'transferOwnership',
        )
        org.owner = newOwner
        return outcome('transferOwnership', `${org.name} transferred to ${short(newOwner.address)}`, [receipt])
      },
    },
  }

  const names = Object.keys(actions) as SimulatorAction[]

  /** One market action, chosen by weight among those possible now. */
  async function step(): Promise<ActionOutcome> {
    const choice = random.weighted(names.map((name) => (actions[name].feasible() ? weights[name] : 0)))
    if (choice < 0) throw new Error('no simulator action is possible: every feasible action has weight 0')
    const result = await actions[names[choice]!].run()
    options.logger?.info({ action: result.action, block: Number(result.block), events: result.events }, `market: ${result.summary}`)
    return result
  }

  /** Acts at `actionsPerSecond` until the signal aborts; a failed action is logged and skipped. */
  async function run(actionsPerSecond: number, signal: AbortSignal): Promise<void> {
    const interval = 1000 / actionsPerSecond
    let failures = 0
    while (!signal.aborted) {
      const started = Date.now()
      try {
        await step()
        failures = 0
      } catch (err) {
        if (signal.aborted) return
        failures += 1
        options.logger?.warn({ err }, 'market simulator action failed')
        if (failures >= 10) throw new Error('market simulator stopped after 10 failed actions in a row', { cause: err })
      }
      await sleepUnlessAborted(Math.max(0, interval - (Date.now() - started)), signal)
    }
  }

  /** One action of the given kind, for set-ups that need a particular market. */
  async function act(name: SimulatorAction): Promise<ActionOutcome> {
    if (!actions[name].feasible()) throw new Error(`simulator action ${name} is not possible in the current market`)
    return actions[name].run()
  }

  return { state, totals, step, act, run }
}

export type MarketSimulator = Awaited<ReturnType<typeof createMarketSimulator>>
