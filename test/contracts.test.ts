/**
 * The Haithe contracts on a real anvil chain: the v1 function surface, who may call what, the
 * money moved by charges, settlements and withdrawals, and every event the indexer reads.
 */
import {
  getAddress,
  maxUint256,
  parseUnits,
  toFunctionSignature,
  zeroAddress,
  keccak256,
  stringToHex,
  type Abi,
  type AbiFunction,
  type Address,
  type Hex,
  type TransactionReceipt,
} from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  haitheCreatorIdentityAbi,
  haitheOrchestratorAbi,
  haitheOrganizationAbi,
  haitheProductAbi,
  testUSDTAbi,
  type ChainPublicClient,
  type ChainWalletClient,
  type Deployment,
} from '../src/chain/index.js'
import { decodeLogs, revertOf, startDevChain, waitForSuccess, type DevChain } from './support/devchain.js'

const usdt = (amount: string) => parseUnits(amount, 18)
const batchId = (label: string): Hex => keccak256(stringToHex(`batch:${label}`))

let dev: DevChain
let pc: ChainPublicClient
let d: Deployment
let server: ChainWalletClient
let alice: ChainWalletClient // owns the first organization
let bob: ChainWalletClient // first creator (token 1)
let carol: ChainWalletClient // second creator (token 2)
let dave: ChainWalletClient // creator registered by the withdrawal test
let mallory: ChainWalletClient // nobody in particular
let erin: ChainWalletClient // receives an organization's ownership

/** What the file's setup did, in order, so tests can check "from 0" / "from 1" numbering. */
const setup = {} as {
  creatorReceipts: TransactionReceipt[]
  seeds: Hex[]
  orgReceipts: TransactionReceipt[]
  productReceipts: TransactionReceipt[]
  acme: Address // alice's, index 0
  globex: Address // mallory's, index 1
  promptPack: Address // bob's, index 0
  knowledgeBase: Address // carol's, index 1
}

let counter = 0
const unique = (prefix: string) => `${prefix}-${++counter}`

async function registerCreator(creator: Address, uri: string) {
  const seed = await pc.readContract({ address: d.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'determineNextSeed', args: [creator] })
  const receipt = await waitForSuccess(
    pc,
    await server.writeContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'registerAsCreator', args: [creator, uri, seed, `pub:${creator}`] }),
  )
  const [event] = decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'CreatorRegistered' })
  if (!event) throw new Error('no CreatorRegistered event')
  return { tokenId: event.args.tokenId, seed, receipt }
}

async function createOrg(owner: ChainWalletClient, name: string) {
  const receipt = await waitForSuccess(
    pc,
    await owner.writeContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: [name] }),
  )
  const [event] = decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'OrganizationCreated' })
  if (!event) throw new Error('no OrganizationCreated event')
  return { org: event.args.organization, receipt }
}

interface ProductSpec {
  name: string
  uri: string
  iv: string
  key: string
  category: string
  price: bigint
}

async function addProduct(creator: ChainWalletClient, p: ProductSpec) {
  const receipt = await waitForSuccess(
    pc,
    await creator.writeContract({
      address: d.orchestrator,
      abi: haitheOrchestratorAbi,
      functionName: 'addProduct',
      args: [p.name, p.uri, p.iv, p.key, p.category, p.price],
    }),
  )
  const [event] = decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'ProductCreated' })
  if (!event) throw new Error('no ProductCreated event')
  return { product: event.args.product, receipt }
}

const productSpec = (name: string, price: bigint, category = 'promptset'): ProductSpec => ({
  name,
  uri: `ipfs://${name}`,
  iv: `iv-${name}`,
  key: `key-${name}`,
  category,
  price,
})

async function fund(org: Address, amount: bigint) {
  return waitForSuccess(pc, await server.writeContract({ address: d.tusdt, abi: testUSDTAbi, functionName: 'transfer', args: [org, amount] }))
}

const tusdtOf = (account: Address) => pc.readContract({ address: d.tusdt, abi: testUSDTAbi, functionName: 'balanceOf', args: [account] })
const fundsOf = (tokenId: bigint) => pc.readContract({ address: d.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'funds', args: [tokenId] })
const orgBalance = (org: Address) => pc.readContract({ address: org, abi: haitheOrganizationAbi, functionName: 'balance' })

async function settle(
  org: Address,
  id: Hex,
  lines: { product: Address; amount: bigint; calls: bigint }[],
  modelFee = 0n,
  modelCalls = 0n,
  gas?: bigint,
) {
  const hash = await server.writeContract({
    address: d.orchestrator,
    abi: haitheOrchestratorAbi,
    functionName: 'settleUsage',
    args: [org, id, lines.map((l) => l.product), lines.map((l) => l.amount), lines.map((l) => l.calls), modelFee, modelCalls],
    ...(gas !== undefined ? { gas } : {}),
  })
  return gas === undefined ? waitForSuccess(pc, hash) : pc.waitForTransactionReceipt({ hash })
}

beforeAll(async () => {
  dev = await startDevChain()
  pc = dev.publicClient
  d = dev.deployment
  server = dev.server
  alice = await dev.wallet(1)
  bob = await dev.wallet(2)
  carol = await dev.wallet(3)
  dave = await dev.wallet(4)
  mallory = await dev.wallet(5)
  erin = await dev.wallet(6)

  const b = await registerCreator(bob.account.address, 'ipfs://bob')
  const c = await registerCreator(carol.account.address, 'ipfs://carol')
  const acme = await createOrg(alice, 'Acme')
  const globex = await createOrg(mallory, 'Globex')
  const pp = await addProduct(bob, productSpec('prompt-pack', usdt('0.001')))
  const kb = await addProduct(carol, productSpec('knowledge-base', usdt('0.002'), 'knowledge:text'))
  Object.assign(setup, {
    creatorReceipts: [b.receipt, c.receipt],
    seeds: [b.seed, c.seed],
    orgReceipts: [acme.receipt, globex.receipt],
    productReceipts: [pp.receipt, kb.receipt],
    acme: acme.org,
    globex: globex.org,
    promptPack: pp.product,
    knowledgeBase: kb.product,
  })
})

afterAll(async () => {
  await dev?.stop()
})

describe('v1 surface', () => {
  /** "sig" and "sig returns (types)" for every function of an ABI. */
  const surface = (abi: Abi) =>
    new Set(
      abi
        .filter((item): item is AbiFunction => item.type === 'function')
        .flatMap((f) => {
          const sig = toFunctionSignature(f)
          return [sig, `${sig} returns (${f.outputs.map((o) => o.type).join(',')})`]
        }),
    )

  const v1: Record<string, { abi: Abi; functions: string[] }> = {
    tUSDT: {
      abi: testUSDTAbi,
      functions: [
        'name() returns (string)',
        'symbol() returns (string)',
        'decimals() returns (uint8)',
        'totalSupply() returns (uint256)',
        'balanceOf(address) returns (uint256)',
        'transfer(address,uint256) returns (bool)',
        'transferFrom(address,address,uint256) returns (bool)',
        'approve(address,uint256) returns (bool)',
        'allowance(address,address) returns (uint256)',
        'mint(address,uint256)',
      ],
    },
    HaitheOrchestrator: {
      abi: haitheOrchestratorAbi,
      functions: [
        'usdt() returns (address)',
        'server() returns (address)',
        'creatorIdentity() returns (address)',
        'creators(address) returns (uint256)',
        'isProduct(address) returns (bool)',
        'products(uint256) returns (address)',
        'productNameExists(string) returns (bool)',
        'isOrganization(address) returns (bool)',
        'organizations(uint256) returns (address)',
        'organizationNameExists(string) returns (bool)',
        'organizationsCount() returns (uint256)',
        'productsCount() returns (uint256)',
        'getOrganizationIndex(address) returns (uint256)',
        'registerAsCreator(address,string,bytes32,string)',
        'addProduct(string,string,string,string,string,uint256)',
        'createOrganization(string)',
        'collectPaymentForCall(address,uint256,address,uint256)',
        'collectPaymentForLLMCall(address,address,uint256)',
        'settleUsage(address,bytes32,address[],uint256[],uint256[],uint256,uint256)',
      ],
    },
    HaitheOrganization: {
      abi: haitheOrganizationAbi,
      functions: [
        'name() returns (string)',
        'owner() returns (address)',
        'balance() returns (uint256)',
        'enableProduct(address)',
        'disableProduct(address)',
        'getEnabledProducts() returns (address[])',
        'transferOwnership(address)',
      ],
    },
    HaitheProduct: {
      abi: haitheProductAbi,
      functions: [
        'name() returns (string)',
        'uri() returns (string)',
        'iv() returns (string)',
        'encryptedKeyForTEE() returns (string)',
        'pricePerCall() returns (uint256)',
        'creator() returns (address)',
        'category() returns (string)',
        'setPricePerCall(uint256)',
      ],
    },
    HaitheCreatorIdentity: {
      abi: haitheCreatorIdentityAbi,
      functions: [
        'mint(address,string,bytes32,string)',
        'determineNextSeed(address) returns (bytes32)',
        'pvtKeySeeds(uint256) returns (bytes32)',
        'pubKeys(uint256) returns (string)',
        'funds(uint256) returns (uint256)',
        'registerFunds(uint256,uint256)',
        'withdrawFunds(uint256)',
        'name() returns (string)',
        'symbol() returns (string)',
        'ownerOf(uint256) returns (address)',
        'tokenURI(uint256) returns (string)',
        'balanceOf(address) returns (uint256)',
      ],
    },
  }

  for (const [contract, { abi, functions }] of Object.entries(v1)) {
    it(`${contract} keeps every v1 function signature`, () => {
      const have = surface(abi)
      expect(functions.filter((f) => !have.has(f))).toEqual([])
    })
  }

  it('tUSDT is "testUSDT" / "tUSDT" with 18 decimals; the identity NFT is "Haithe Creator Identity" / "HaitheCID"', async () => {
    const read = (address: Address, abi: Abi, functionName: string) => pc.readContract({ address, abi, functionName })
    expect(await read(d.tusdt, testUSDTAbi, 'name')).toBe('testUSDT')
    expect(await read(d.tusdt, testUSDTAbi, 'symbol')).toBe('tUSDT')
    expect(await read(d.tusdt, testUSDTAbi, 'decimals')).toBe(18)
    expect(await read(d.creatorIdentity, haitheCreatorIdentityAbi, 'name')).toBe('Haithe Creator Identity')
    expect(await read(d.creatorIdentity, haitheCreatorIdentityAbi, 'symbol')).toBe('HaitheCID')
  })

  it('the orchestrator reports its token, server and identity contract', async () => {
    const read = (functionName: 'usdt' | 'server' | 'creatorIdentity' | 'owner') =>
      pc.readContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName })
    expect(await read('usdt')).toBe(getAddress(d.tusdt))
    expect(await read('server')).toBe(server.account.address)
    expect(await read('owner')).toBe(server.account.address)
    expect(await read('creatorIdentity')).toBe(getAddress(d.creatorIdentity))
  })
})

describe('access control', () => {
  it('only the server may register creators and charge organizations', async () => {
    const who = mallory.account
    const calls = [
      () => pc.simulateContract({
        account: who,
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'registerAsCreator',
        args: [who.address, 'ipfs://me', batchId('seed'), 'pub'],
      }),
      () => pc.simulateContract({
        account: who,
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'collectPaymentForCall',
        args: [setup.acme, 1n, who.address, 1n],
      }),
      () => pc.simulateContract({
        account: who,
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'collectPaymentForLLMCall',
        args: [setup.acme, who.address, 1n],
      }),
      () => pc.simulateContract({
        account: who,
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'settleUsage',
        args: [setup.acme, batchId('mallory'), [], [], [], 1n, 1n],
      }),
    ]
    for (const call of calls) expect(await revertOf(call())).toEqual({ errorName: 'NotServer', args: [who.address] })
  })

  it('only a registered creator may add a product', async () => {
    const err = await revertOf(
      pc.simulateContract({
        account: mallory.account,
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'addProduct',
        args: ['malloryware', 'ipfs://x', 'iv', 'key', 'promptset', 1n],
      }),
    )
    expect(err).toEqual({ errorName: 'NotACreator', args: [mallory.account.address] })
  })

  it("only the organization's owner may enable, disable or give it away", async () => {
    const who = mallory.account
    for (const functionName of ['enableProduct', 'disableProduct', 'transferOwnership'] as const) {
      const arg = functionName === 'transferOwnership' ? who.address : setup.promptPack
      const err = await revertOf(pc.simulateContract({ account: who, address: setup.acme, abi: haitheOrganizationAbi, functionName, args: [arg] }))
      expect(err, functionName).toEqual({ errorName: 'OwnableUnauthorizedAccount', args: [who.address] })
    }
  })

  it("only the product's creator may reprice it", async () => {
    for (const account of [mallory.account, carol.account, server.account]) {
      const err = await revertOf(
        pc.simulateContract({ account, address: setup.promptPack, abi: haitheProductAbi, functionName: 'setPricePerCall', args: [1n] }),
      )
      expect(err).toEqual({ errorName: 'NotCreator', args: [account.address] })
    }
  })

  it("only the token's owner may withdraw its funds", async () => {
    const err = await revertOf(
      pc.simulateContract({ account: mallory.account, address: d.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'withdrawFunds', args: [1n] }),
    )
    expect(err).toEqual({ errorName: 'NotTokenOwner', args: [1n, mallory.account.address] })
  })

  it('only the orchestrator may mint identities or credit funds, not even the server', async () => {
    for (const account of [server.account, mallory.account]) {
      const mint = await revertOf(
        pc.simulateContract({
          account,
          address: d.creatorIdentity,
          abi: haitheCreatorIdentityAbi,
          functionName: 'mint',
          args: [account.address, 'ipfs://x', batchId('x'), 'pub'],
        }),
      )
      expect(mint).toEqual({ errorName: 'NotOrchestrator', args: [account.address] })
      const credit = await revertOf(
        pc.simulateContract({ account, address: d.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'registerFunds', args: [1n, usdt('1')] }),
      )
      expect(credit).toEqual({ errorName: 'NotOrchestrator', args: [account.address] })
    }
  })

  it('only the tUSDT owner may mint tUSDT', async () => {
    const err = await revertOf(
      mallory.writeContract({ address: d.tusdt, abi: testUSDTAbi, functionName: 'mint', args: [mallory.account.address, usdt('1')] }),
    )
    expect(err).toEqual({ errorName: 'OwnableUnauthorizedAccount', args: [mallory.account.address] })

    const before = await tusdtOf(mallory.account.address)
    const receipt = await waitForSuccess(
      pc,
      await server.writeContract({ address: d.tusdt, abi: testUSDTAbi, functionName: 'mint', args: [mallory.account.address, usdt('500')] }),
    )
    expect(await tusdtOf(mallory.account.address)).toBe(before + usdt('500'))
    expect(decodeLogs(testUSDTAbi, receipt).map((l) => [l.eventName, l.args])).toEqual([
      ['Transfer', { from: zeroAddress, to: mallory.account.address, value: usdt('500') }],
    ])
  })

  it('the owner can hand the server role to another key; the old server is then refused', async () => {
    const setServer = async (to: Address) =>
      waitForSuccess(pc, await server.writeContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'setServer', args: [to] }))
    const notOwner = await revertOf(
      pc.simulateContract({ account: mallory.account, address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'setServer', args: [mallory.account.address] }),
    )
    expect(notOwner).toEqual({ errorName: 'OwnableUnauthorizedAccount', args: [mallory.account.address] })

    const receipt = await setServer(erin.account.address)
    try {
      expect(decodeLogs(haitheOrchestratorAbi, receipt).map((l) => [l.eventName, l.args])).toEqual([
        ['ServerChanged', { previousServer: server.account.address, newServer: erin.account.address }],
      ])
      const oldServer = await revertOf(
        pc.simulateContract({
          account: server.account,
          address: d.orchestrator,
          abi: haitheOrchestratorAbi,
          functionName: 'collectPaymentForLLMCall',
          args: [setup.acme, server.account.address, 0n],
        }),
      )
      expect(oldServer).toEqual({ errorName: 'NotServer', args: [server.account.address] })
      await pc.simulateContract({
        account: erin.account,
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'collectPaymentForLLMCall',
        args: [setup.acme, erin.account.address, 0n],
      })
    } finally {
      await setServer(server.account.address)
    }
    expect(await pc.readContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'server' })).toBe(server.account.address)
  })
})

describe('creators', () => {
  it('registration mints identities numbered from 1 and emits CreatorRegistered(creator, tokenId, uri)', async () => {
    const events = setup.creatorReceipts.map((r) => decodeLogs(haitheOrchestratorAbi, r, { address: d.orchestrator }).map((l) => [l.eventName, l.args]))
    expect(events).toEqual([
      [['CreatorRegistered', { creator: bob.account.address, tokenId: 1n, uri: 'ipfs://bob' }]],
      [['CreatorRegistered', { creator: carol.account.address, tokenId: 2n, uri: 'ipfs://carol' }]],
    ])
    const identity = (functionName: 'ownerOf' | 'tokenURI' | 'pvtKeySeeds' | 'pubKeys', tokenId: bigint) =>
      pc.readContract({ address: d.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName, args: [tokenId] })
    expect(await identity('ownerOf', 1n)).toBe(bob.account.address)
    expect(await identity('tokenURI', 1n)).toBe('ipfs://bob')
    expect(await identity('pvtKeySeeds', 1n)).toBe(setup.seeds[0])
    expect(await identity('pubKeys', 1n)).toBe(`pub:${bob.account.address}`)
    expect(await identity('ownerOf', 2n)).toBe(carol.account.address)
    expect(await pc.readContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'creators', args: [bob.account.address] })).toBe(1n)
    expect(await pc.readContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'creators', args: [carol.account.address] })).toBe(2n)
    expect(await pc.readContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'creators', args: [mallory.account.address] })).toBe(0n)
  })

  it('determineNextSeed differs per creator and moves on after each mint', async () => {
    const seedFor = (a: Address) => pc.readContract({ address: d.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'determineNextSeed', args: [a] })
    expect(setup.seeds[0]).not.toBe(setup.seeds[1])
    expect(await seedFor(bob.account.address)).not.toBe(setup.seeds[0])
    expect(await seedFor(mallory.account.address)).toBe(await seedFor(mallory.account.address))
    expect(await seedFor(mallory.account.address)).not.toBe(await seedFor(erin.account.address))
  })

  it('an identity cannot be transferred, so earnings and the creator record stay with one wallet', async () => {
    for (const functionName of ['transferFrom', 'safeTransferFrom'] as const) {
      const err = await revertOf(
        bob.writeContract({ address: d.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName, args: [bob.account.address, erin.account.address, 1n] }),
      )
      expect(err).toEqual({ errorName: 'IdentityNotTransferable', args: [1n] })
    }
    expect(await pc.readContract({ address: d.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'ownerOf', args: [1n] })).toBe(bob.account.address)
  })

  it('a wallet cannot be registered as a creator twice', async () => {
    const err = await revertOf(
      server.writeContract({
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'registerAsCreator',
        args: [bob.account.address, 'ipfs://bob-again', batchId('again'), 'pub'],
      }),
    )
    expect(err).toEqual({ errorName: 'AlreadyACreator', args: [bob.account.address] })
  })
})

describe('organizations', () => {
  it('creation emits OrganizationCreated(organization, owner, name, index) with indexes from 0, and the ownership event', async () => {
    const [acmeReceipt, globexReceipt] = setup.orgReceipts as [TransactionReceipt, TransactionReceipt]
    expect(decodeLogs(haitheOrchestratorAbi, acmeReceipt, { address: d.orchestrator }).map((l) => [l.eventName, l.args])).toEqual([
      ['OrganizationCreated', { organization: setup.acme, owner: alice.account.address, name: 'Acme', index: 0n }],
    ])
    expect(decodeLogs(haitheOrchestratorAbi, globexReceipt, { address: d.orchestrator }).map((l) => [l.eventName, l.args])).toEqual([
      ['OrganizationCreated', { organization: setup.globex, owner: mallory.account.address, name: 'Globex', index: 1n }],
    ])
    // The organization's own constructor event, then its unlimited approval of the orchestrator.
    expect(decodeLogs(haitheOrganizationAbi, acmeReceipt, { address: setup.acme }).map((l) => [l.eventName, l.args])).toEqual([
      ['OwnershipTransferred', { previousOwner: zeroAddress, newOwner: alice.account.address }],
    ])
    expect(decodeLogs(testUSDTAbi, acmeReceipt, { address: d.tusdt }).map((l) => [l.eventName, l.args])).toEqual([
      ['Approval', { owner: setup.acme, spender: getAddress(d.orchestrator), value: maxUint256 }],
    ])
  })

  it('an organization knows its name and owner and lets the orchestrator spend unlimited tUSDT', async () => {
    expect(await pc.readContract({ address: setup.acme, abi: haitheOrganizationAbi, functionName: 'name' })).toBe('Acme')
    expect(await pc.readContract({ address: setup.acme, abi: haitheOrganizationAbi, functionName: 'owner' })).toBe(alice.account.address)
    expect(await pc.readContract({ address: d.tusdt, abi: testUSDTAbi, functionName: 'allowance', args: [setup.acme, d.orchestrator] })).toBe(maxUint256)
  })

  it('the orchestrator lists organizations and finds their index; a non-organization has none', async () => {
    const orch = { address: d.orchestrator, abi: haitheOrchestratorAbi } as const
    expect(await pc.readContract({ ...orch, functionName: 'organizations', args: [0n] })).toBe(setup.acme)
    expect(await pc.readContract({ ...orch, functionName: 'organizations', args: [1n] })).toBe(setup.globex)
    expect(await pc.readContract({ ...orch, functionName: 'getOrganizationIndex', args: [setup.acme] })).toBe(0n)
    expect(await pc.readContract({ ...orch, functionName: 'getOrganizationIndex', args: [setup.globex] })).toBe(1n)
    expect(await pc.readContract({ ...orch, functionName: 'isOrganization', args: [setup.acme] })).toBe(true)
    expect(await pc.readContract({ ...orch, functionName: 'organizationNameExists', args: ['Acme'] })).toBe(true)
    expect(await pc.readContract({ ...orch, functionName: 'organizationNameExists', args: ['acme'] })).toBe(false)

    const { org, receipt } = await createOrg(erin, unique('Initech'))
    const count = await pc.readContract({ ...orch, functionName: 'organizationsCount' })
    expect(await pc.readContract({ ...orch, functionName: 'getOrganizationIndex', args: [org] })).toBe(count - 1n)
    const [created] = decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'OrganizationCreated' })
    expect(created?.args.index).toBe(count - 1n)

    // v1 searched the product list here; a product (or any address) is not an organization.
    for (const other of [setup.promptPack, mallory.account.address]) {
      const err = await revertOf(pc.readContract({ ...orch, functionName: 'getOrganizationIndex', args: [other] }))
      expect(err).toEqual({ errorName: 'NotAnOrganization', args: [other] })
    }
  })

  it('names are unique and not empty', async () => {
    const taken = await revertOf(
      erin.writeContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: ['Acme'] }),
    )
    expect(taken).toEqual({ errorName: 'NameTaken', args: ['Acme'] })
    const empty = await revertOf(
      erin.writeContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: [''] }),
    )
    expect(empty).toEqual({ errorName: 'EmptyName', args: [] })
  })

  it('a plain tUSDT transfer funds an organization', async () => {
    const { org } = await createOrg(alice, unique('Funded'))
    expect(await orgBalance(org)).toBe(0n)
    await fund(org, usdt('12.5'))
    expect(await orgBalance(org)).toBe(usdt('12.5'))
  })

  it('enable and disable products: events, the enabled list, and the refusals', async () => {
    const { org } = await createOrg(alice, unique('Shop'))
    const call = async (functionName: 'enableProduct' | 'disableProduct', product: Address, by = alice) =>
      waitForSuccess(pc, await by.writeContract({ address: org, abi: haitheOrganizationAbi, functionName, args: [product] }))
    const enabled = () => pc.readContract({ address: org, abi: haitheOrganizationAbi, functionName: 'getEnabledProducts' })
    const eventsOf = (r: TransactionReceipt) => decodeLogs(haitheOrganizationAbi, r, { address: org }).map((l) => [l.eventName, l.args])

    expect(await enabled()).toEqual([])
    expect(eventsOf(await call('enableProduct', setup.promptPack))).toEqual([['ProductEnabled', { product: setup.promptPack }]])
    expect(eventsOf(await call('enableProduct', setup.knowledgeBase))).toEqual([['ProductEnabled', { product: setup.knowledgeBase }]])
    expect(await enabled()).toEqual([setup.promptPack, setup.knowledgeBase])
    expect(await pc.readContract({ address: org, abi: haitheOrganizationAbi, functionName: 'isProductEnabled', args: [setup.promptPack] })).toBe(true)

    expect(eventsOf(await call('disableProduct', setup.promptPack))).toEqual([['ProductDisabled', { product: setup.promptPack }]])
    expect(await enabled()).toEqual([setup.knowledgeBase])

    const simulate = (functionName: 'enableProduct' | 'disableProduct', product: Address) =>
      pc.simulateContract({ account: alice.account, address: org, abi: haitheOrganizationAbi, functionName, args: [product] })
    expect(await revertOf(simulate('enableProduct', setup.knowledgeBase))).toEqual({ errorName: 'ProductAlreadyEnabled', args: [setup.knowledgeBase] })
    expect(await revertOf(simulate('disableProduct', setup.promptPack))).toEqual({ errorName: 'ProductNotEnabled', args: [setup.promptPack] })
    expect(await revertOf(simulate('enableProduct', setup.globex))).toEqual({ errorName: 'NotAProduct', args: [setup.globex] })
  })

  it('transferOwnership emits OwnershipTransferred and hands over control', async () => {
    const { org } = await createOrg(alice, unique('Handover'))
    const receipt = await waitForSuccess(
      pc,
      await alice.writeContract({ address: org, abi: haitheOrganizationAbi, functionName: 'transferOwnership', args: [erin.account.address] }),
    )
    expect(decodeLogs(haitheOrganizationAbi, receipt, { address: org }).map((l) => [l.eventName, l.args])).toEqual([
      ['OwnershipTransferred', { previousOwner: alice.account.address, newOwner: erin.account.address }],
    ])
    expect(await pc.readContract({ address: org, abi: haitheOrganizationAbi, functionName: 'owner' })).toBe(erin.account.address)

    const formerOwner = await revertOf(
      alice.writeContract({ address: org, abi: haitheOrganizationAbi, functionName: 'enableProduct', args: [setup.promptPack] }),
    )
    expect(formerOwner).toEqual({ errorName: 'OwnableUnauthorizedAccount', args: [alice.account.address] })
    await waitForSuccess(pc, await erin.writeContract({ address: org, abi: haitheOrganizationAbi, functionName: 'enableProduct', args: [setup.promptPack] }))
    expect(await pc.readContract({ address: org, abi: haitheOrganizationAbi, functionName: 'getEnabledProducts' })).toEqual([setup.promptPack])
  })
})

describe('products', () => {
  it('creation emits ProductCreated with every field and indexes from 0; the product contract holds the same facts', async () => {
    const [ppReceipt, kbReceipt] = setup.productReceipts as [TransactionReceipt, TransactionReceipt]
    expect(decodeLogs(haitheOrchestratorAbi, ppReceipt, { address: d.orchestrator }).map((l) => [l.eventName, l.args])).toEqual([
      [
        'ProductCreated',
        {
          product: setup.promptPack,
          creator: bob.account.address,
          creatorId: 1n,
          name: 'prompt-pack',
          category: 'promptset',
          uri: 'ipfs://prompt-pack',
          pricePerCall: usdt('0.001'),
          index: 0n,
        },
      ],
    ])
    expect(decodeLogs(haitheOrchestratorAbi, kbReceipt, { address: d.orchestrator }).map((l) => [l.eventName, l.args])).toEqual([
      [
        'ProductCreated',
        {
          product: setup.knowledgeBase,
          creator: carol.account.address,
          creatorId: 2n,
          name: 'knowledge-base',
          category: 'knowledge:text',
          uri: 'ipfs://knowledge-base',
          pricePerCall: usdt('0.002'),
          index: 1n,
        },
      ],
    ])

    const product = { address: setup.knowledgeBase, abi: haitheProductAbi } as const
    expect(await pc.readContract({ ...product, functionName: 'name' })).toBe('knowledge-base')
    expect(await pc.readContract({ ...product, functionName: 'uri' })).toBe('ipfs://knowledge-base')
    expect(await pc.readContract({ ...product, functionName: 'iv' })).toBe('iv-knowledge-base')
    expect(await pc.readContract({ ...product, functionName: 'encryptedKeyForTEE' })).toBe('key-knowledge-base')
    expect(await pc.readContract({ ...product, functionName: 'category' })).toBe('knowledge:text')
    expect(await pc.readContract({ ...product, functionName: 'pricePerCall' })).toBe(usdt('0.002'))
    expect(await pc.readContract({ ...product, functionName: 'creator' })).toBe(carol.account.address)
    expect(await pc.readContract({ ...product, functionName: 'creatorId' })).toBe(2n)

    const orch = { address: d.orchestrator, abi: haitheOrchestratorAbi } as const
    expect(await pc.readContract({ ...orch, functionName: 'products', args: [0n] })).toBe(setup.promptPack)
    expect(await pc.readContract({ ...orch, functionName: 'products', args: [1n] })).toBe(setup.knowledgeBase)
    expect(await pc.readContract({ ...orch, functionName: 'isProduct', args: [setup.promptPack] })).toBe(true)
    expect(await pc.readContract({ ...orch, functionName: 'isProduct', args: [setup.acme] })).toBe(false)
    expect(await pc.readContract({ ...orch, functionName: 'productNameExists', args: ['prompt-pack'] })).toBe(true)
    expect(await pc.readContract({ ...orch, functionName: 'productCreatorId', args: [setup.knowledgeBase] })).toBe(2n)
    expect(await pc.readContract({ ...orch, functionName: 'productsCount' })).toBeGreaterThanOrEqual(2n)
  })

  it('product names are unique and not empty', async () => {
    const add = (name: string) =>
      carol.writeContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'addProduct', args: [name, 'ipfs://x', 'iv', 'k', 'promptset', 1n] })
    expect(await revertOf(add('prompt-pack'))).toEqual({ errorName: 'NameTaken', args: ['prompt-pack'] })
    expect(await revertOf(add(''))).toEqual({ errorName: 'EmptyName', args: [] })
  })

  it('the creator reprices a product: ProductPriceUpdated(oldPrice, newPrice) from the product', async () => {
    const { product } = await addProduct(bob, productSpec(unique('reprice'), usdt('0.003'), 'tool:rpc'))
    const reprice = async (price: bigint) =>
      waitForSuccess(pc, await bob.writeContract({ address: product, abi: haitheProductAbi, functionName: 'setPricePerCall', args: [price] }))
    const first = await reprice(usdt('0.004'))
    expect(decodeLogs(haitheProductAbi, first).map((l) => [l.address, l.eventName, l.args])).toEqual([
      [product.toLowerCase(), 'ProductPriceUpdated', { oldPrice: usdt('0.003'), newPrice: usdt('0.004') }],
    ])
    const second = await reprice(0n)
    expect(decodeLogs(haitheProductAbi, second).map((l) => l.args)).toEqual([{ oldPrice: usdt('0.004'), newPrice: 0n }])
    expect(await pc.readContract({ address: product, abi: haitheProductAbi, functionName: 'pricePerCall' })).toBe(0n)
  })
})

describe('charging organizations', () => {
  let org: Address

  beforeAll(async () => {
    org = (await createOrg(alice, unique('Payer'))).org
    await fund(org, usdt('10'))
  })

  it('collectPaymentForCall moves tUSDT to the identity contract, credits the creator and emits CreatorPaid (no product) and OrganizationExpenditure', async () => {
    const amount = usdt('0.002')
    const [orgBefore, fundsBefore, identityBefore] = await Promise.all([orgBalance(org), fundsOf(1n), tusdtOf(d.creatorIdentity)])
    const receipt = await waitForSuccess(
      pc,
      await server.writeContract({
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'collectPaymentForCall',
        args: [org, 1n, alice.account.address, amount],
      }),
    )
    expect(decodeLogs(haitheOrchestratorAbi, receipt, { address: d.orchestrator }).map((l) => [l.eventName, l.args])).toEqual([
      ['CreatorPaid', { organization: org, creatorId: 1n, product: zeroAddress, amount, calls: 1n }],
      ['OrganizationExpenditure', { organization: org, amount, spender: alice.account.address }],
    ])
    expect(decodeLogs(testUSDTAbi, receipt, { address: d.tusdt }).map((l) => [l.eventName, l.args])).toEqual([
      ['Transfer', { from: org, to: getAddress(d.creatorIdentity), value: amount }],
    ])
    expect(await orgBalance(org)).toBe(orgBefore - amount)
    expect(await fundsOf(1n)).toBe(fundsBefore + amount)
    expect(await tusdtOf(d.creatorIdentity)).toBe(identityBefore + amount)
  })

  it('collectPaymentForLLMCall moves the model fee to the orchestrator and emits ModelFeePaid and OrganizationExpenditure', async () => {
    const amount = usdt('0.0001')
    const [orgBefore, orchestratorBefore] = await Promise.all([orgBalance(org), tusdtOf(d.orchestrator)])
    const receipt = await waitForSuccess(
      pc,
      await server.writeContract({
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'collectPaymentForLLMCall',
        args: [org, erin.account.address, amount],
      }),
    )
    expect(decodeLogs(haitheOrchestratorAbi, receipt, { address: d.orchestrator }).map((l) => [l.eventName, l.args])).toEqual([
      ['ModelFeePaid', { organization: org, amount, calls: 1n }],
      ['OrganizationExpenditure', { organization: org, amount, spender: erin.account.address }],
    ])
    expect(decodeLogs(testUSDTAbi, receipt, { address: d.tusdt }).map((l) => [l.eventName, l.args])).toEqual([
      ['Transfer', { from: org, to: getAddress(d.orchestrator), value: amount }],
    ])
    expect(await orgBalance(org)).toBe(orgBefore - amount)
    expect(await tusdtOf(d.orchestrator)).toBe(orchestratorBefore + amount)
  })

  it('per-call charges refuse a non-organization and an unknown creator', async () => {
    const collect = (target: Address, creatorId: bigint) =>
      pc.simulateContract({
        account: server.account,
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'collectPaymentForCall',
        args: [target, creatorId, server.account.address, 1n],
      })
    expect(await revertOf(collect(mallory.account.address, 1n))).toEqual({ errorName: 'NotAnOrganization', args: [mallory.account.address] })
    expect(await revertOf(collect(org, 999n))).toEqual({ errorName: 'ERC721NonexistentToken', args: [999n] })
    const llm = await revertOf(
      pc.simulateContract({
        account: server.account,
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'collectPaymentForLLMCall',
        args: [setup.promptPack, server.account.address, 1n],
      }),
    )
    expect(llm).toEqual({ errorName: 'NotAnOrganization', args: [setup.promptPack] })
  })

  it('settleUsage pays each creator and the model fee in one transaction, with every event and transfer', async () => {
    const id = batchId(unique('settle'))
    const lines = [
      { product: setup.promptPack, amount: usdt('0.003'), calls: 3n },
      { product: setup.knowledgeBase, amount: usdt('0.004'), calls: 2n },
    ]
    const modelFee = usdt('0.0007')
    const total = usdt('0.0077')
    const [orgBefore, identityBefore, orchestratorBefore, bobBefore, carolBefore] = await Promise.all([
      orgBalance(org),
      tusdtOf(d.creatorIdentity),
      tusdtOf(d.orchestrator),
      fundsOf(1n),
      fundsOf(2n),
    ])

    const receipt = await settle(org, id, lines, modelFee, 5n)

    expect(decodeLogs(haitheOrchestratorAbi, receipt, { address: d.orchestrator }).map((l) => [l.eventName, l.args])).toEqual([
      ['CreatorPaid', { organization: org, creatorId: 1n, product: setup.promptPack, amount: usdt('0.003'), calls: 3n }],
      ['CreatorPaid', { organization: org, creatorId: 2n, product: setup.knowledgeBase, amount: usdt('0.004'), calls: 2n }],
      ['ModelFeePaid', { organization: org, amount: modelFee, calls: 5n }],
      ['OrganizationExpenditure', { organization: org, amount: total, spender: server.account.address }],
      ['UsageSettled', { organization: org, batchId: id, total, lines: 3n }],
    ])
    expect(decodeLogs(testUSDTAbi, receipt).map((l) => [l.eventName, l.args])).toEqual([
      ['Transfer', { from: org, to: getAddress(d.creatorIdentity), value: usdt('0.007') }],
      ['Transfer', { from: org, to: getAddress(d.orchestrator), value: modelFee }],
    ])
    expect(await orgBalance(org)).toBe(orgBefore - total)
    expect(await tusdtOf(d.creatorIdentity)).toBe(identityBefore + usdt('0.007'))
    expect(await tusdtOf(d.orchestrator)).toBe(orchestratorBefore + modelFee)
    expect(await fundsOf(1n)).toBe(bobBefore + usdt('0.003'))
    expect(await fundsOf(2n)).toBe(carolBefore + usdt('0.004'))
    expect(await pc.readContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'settledBatches', args: [id] })).toBe(true)

    // The same batch again is refused: a retried transaction cannot charge twice.
    const again = await revertOf(
      server.writeContract({
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'settleUsage',
        args: [org, id, [setup.promptPack], [1n], [1n], 0n, 0n],
      }),
    )
    expect(again).toEqual({ errorName: 'BatchAlreadySettled', args: [id] })
    expect(await orgBalance(org)).toBe(orgBefore - total)
  })

  it('UsageSettled counts one line per product, plus one only when there is a model charge', async () => {
    const cases = [
      { lines: [{ product: setup.promptPack, amount: usdt('0.001'), calls: 1n }], fee: 0n, calls: 0n, expectedLines: 1n, modelEvent: false },
      { lines: [], fee: usdt('0.0002'), calls: 2n, expectedLines: 1n, modelEvent: true },
      { lines: [], fee: 0n, calls: 4n, expectedLines: 1n, modelEvent: true }, // free model calls are still recorded
      { lines: [], fee: 0n, calls: 0n, expectedLines: 0n, modelEvent: false },
    ]
    for (const c of cases) {
      const id = batchId(unique('lines'))
      const before = await orgBalance(org)
      const receipt = await settle(org, id, c.lines, c.fee, c.calls)
      const total = c.lines.reduce((s, l) => s + l.amount, 0n) + c.fee
      const events = decodeLogs(haitheOrchestratorAbi, receipt, { address: d.orchestrator })
      expect(events.find((e) => e.eventName === 'UsageSettled')?.args).toEqual({ organization: org, batchId: id, total, lines: c.expectedLines })
      expect(events.find((e) => e.eventName === 'OrganizationExpenditure')?.args).toEqual({ organization: org, amount: total, spender: server.account.address })
      const model = events.filter((e) => e.eventName === 'ModelFeePaid').map((e) => e.args)
      expect(model).toEqual(c.modelEvent ? [{ organization: org, amount: c.fee, calls: c.calls }] : [])
      // tUSDT moves only for non-zero amounts.
      const transfers = decodeLogs(testUSDTAbi, receipt, { eventName: 'Transfer' }).map((l) => l.args.value)
      expect(transfers).toEqual([...(c.lines.length ? [c.lines.reduce((s, l) => s + l.amount, 0n)] : []), ...(c.fee > 0n ? [c.fee] : [])])
      expect(await orgBalance(org)).toBe(before - total)
    }
  })

  it('settleUsage refuses mismatched arrays, a non-product and a non-organization', async () => {
    const simulate = (target: Address, products: Address[], amounts: bigint[], calls: bigint[]) =>
      pc.simulateContract({
        account: server.account,
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'settleUsage',
        args: [target, batchId(unique('bad')), products, amounts, calls, 0n, 0n],
      })
    expect(await revertOf(simulate(org, [setup.promptPack], [1n, 2n], [1n]))).toEqual({ errorName: 'LengthMismatch', args: [] })
    expect(await revertOf(simulate(org, [setup.promptPack], [1n], []))).toEqual({ errorName: 'LengthMismatch', args: [] })
    expect(await revertOf(simulate(org, [setup.promptPack, setup.acme], [1n, 1n], [1n, 1n]))).toEqual({ errorName: 'NotAProduct', args: [setup.acme] })
    expect(await revertOf(simulate(mallory.account.address, [], [], []))).toEqual({ errorName: 'NotAnOrganization', args: [mallory.account.address] })
  })

  it('an organization short of tUSDT is charged nothing, and the batch can settle once it is funded', async () => {
    const { org: poor } = await createOrg(alice, unique('Poor'))
    await fund(poor, usdt('0.001'))
    const id = batchId(unique('poor'))
    const lines = [{ product: setup.promptPack, amount: usdt('0.003'), calls: 3n }]
    const [fundsBefore, identityBefore] = await Promise.all([fundsOf(1n), tusdtOf(d.creatorIdentity)])

    const estimated = await revertOf(
      server.writeContract({
        address: d.orchestrator,
        abi: haitheOrchestratorAbi,
        functionName: 'settleUsage',
        args: [poor, id, [setup.promptPack], [usdt('0.003')], [3n], 0n, 0n],
      }),
    )
    expect(estimated).toEqual({ errorName: 'ERC20InsufficientBalance', args: [poor, usdt('0.001'), usdt('0.003')] })

    // Mined anyway (gas given, so no estimate): it reverts on chain and changes nothing.
    const mined = await settle(poor, id, lines, 0n, 0n, 1_000_000n)
    expect(mined.status).toBe('reverted')
    expect(mined.logs).toEqual([])
    expect(await orgBalance(poor)).toBe(usdt('0.001'))
    expect(await fundsOf(1n)).toBe(fundsBefore)
    expect(await tusdtOf(d.creatorIdentity)).toBe(identityBefore)
    expect(await pc.readContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'settledBatches', args: [id] })).toBe(false)

    await fund(poor, usdt('0.002'))
    const receipt = await settle(poor, id, lines)
    expect(decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'UsageSettled' }).map((l) => l.args)).toEqual([
      { organization: poor, batchId: id, total: usdt('0.003'), lines: 1n },
    ])
    expect(await orgBalance(poor)).toBe(0n)
    expect(await fundsOf(1n)).toBe(fundsBefore + usdt('0.003'))
  })
})

describe('creator withdrawals', () => {
  it('withdrawFunds pays the earned tUSDT to the creator, once, and no native coin', async () => {
    const { tokenId } = await registerCreator(dave.account.address, 'ipfs://dave')
    const { product } = await addProduct(dave, productSpec(unique('dave-tool'), usdt('0.5'), 'tool:js'))
    const { org } = await createOrg(alice, unique('DaveFan'))
    await fund(org, usdt('5'))
    await settle(org, batchId(unique('dave')), [{ product, amount: usdt('1.5'), calls: 3n }])
    await settle(org, batchId(unique('dave')), [{ product, amount: usdt('1'), calls: 2n }], usdt('0.1'), 2n)
    expect(await fundsOf(tokenId)).toBe(usdt('2.5'))

    const daveAddress = dave.account.address
    const [tusdtBefore, ethBefore, identityBefore] = await Promise.all([tusdtOf(daveAddress), pc.getBalance({ address: daveAddress }), tusdtOf(d.creatorIdentity)])
    const receipt = await waitForSuccess(
      pc,
      await dave.writeContract({ address: d.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'withdrawFunds', args: [tokenId] }),
    )

    expect(decodeLogs(haitheCreatorIdentityAbi, receipt, { address: d.creatorIdentity, eventName: 'FundsWithdrawn' }).map((l) => l.args)).toEqual([
      { tokenId, to: daveAddress, amount: usdt('2.5') },
    ])
    expect(decodeLogs(testUSDTAbi, receipt, { address: d.tusdt }).map((l) => [l.eventName, l.args])).toEqual([
      ['Transfer', { from: getAddress(d.creatorIdentity), to: daveAddress, value: usdt('2.5') }],
    ])
    expect(await tusdtOf(daveAddress)).toBe(tusdtBefore + usdt('2.5'))
    expect(await tusdtOf(d.creatorIdentity)).toBe(identityBefore - usdt('2.5'))
    expect(await fundsOf(tokenId)).toBe(0n)
    // The native balance only paid for gas (v1 paid creators in the native coin).
    expect(await pc.getBalance({ address: daveAddress })).toBe(ethBefore - receipt.gasUsed * receipt.effectiveGasPrice)

    const again = await revertOf(
      dave.writeContract({ address: d.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'withdrawFunds', args: [tokenId] }),
    )
    expect(again).toEqual({ errorName: 'NothingToWithdraw', args: [tokenId] })
  })
})
