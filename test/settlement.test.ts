/**
 * Settlement: charged ledger lines are settled on chain in batches (settleUsage through the
 * outbox, one unique batch id each), marked settled once the index shows UsageSettled, and
 * reconciled against the chain. An organization that cannot pay gets its batch failed and its
 * lines back, to be retried later.
 */
import { parseEther, type Address, type Hash } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { haitheOrchestratorAbi, haitheOrganizationAbi, testUSDTAbi, type ChainWalletClient } from '../src/chain/index.js'
import type { Outbox } from '../src/write/signer/outbox.js'
import { createBatch, createSettler, reconcile, settlementRoutes, type Settler } from '../src/write/settlement/index.js'
import { decodeLogs, waitForSuccess } from './support/devchain.js'
import { startTestGateway, type TestGateway } from './support/gateway.js'
import { eventually } from './support/eventually.js'

interface OrgView { id: number; address: string }
interface ProjectView { id: number }
interface ProductView { id: number; address: string; price_per_call: string }

/** Model 2 (gemini-2.0-flash-lite) costs 1e14 per call. */
const MODEL_ID = 2
const MODEL_PRICE = 100_000_000_000_000n

describe('settlement of charged usage', () => {
  let gw: TestGateway
  let owner: ChainWalletClient
  let creator: ChainWalletClient
  let ownerToken: string
  let rich: OrgView
  let poor: OrgView
  const projects: ProjectView[] = []
  let poorProject: ProjectView
  const products: ProductView[] = []
  let settler: Settler
  let requestSeq = 0

  async function createOrg(name: string, funds: bigint): Promise<OrgView> {
    const hash: Hash = await owner.writeContract({
      address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: [name],
    })
    const receipt = await waitForSuccess(gw.dev.publicClient, hash)
    const [created] = decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'OrganizationCreated' })
    const address = created!.args.organization.toLowerCase() as Address
    if (funds > 0n) await gw.fund(address, funds)
    const answer = await gw.call<OrgView>('POST', '/api/v1/orgs', { token: ownerToken, query: { tx_hash: hash } })
    expect([200, 201]).toContain(answer.status)
    return answer.body.data
  }

  async function createProject(org: OrgView, name: string): Promise<ProjectView> {
    const answer = await gw.call<ProjectView>('POST', '/api/v1/projects', { token: ownerToken, query: { org_id: org.id, name } })
    expect(answer.status).toBeLessThan(300)
    return answer.body.data
  }

  /** A charged line as billing writes it: the model's price plus each product's. */
  async function chargedLine(org: OrgView, project: ProjectView, modelAmount: bigint, lineProducts: ProductView[], status = 'charged'): Promise<string> {
    const amount = modelAmount + lineProducts.reduce((s, p) => s + BigInt(p.price_per_call), 0n)
    const row = await gw.w.db
      .insertInto('app.usage_ledger')
      .values({
        request_id: `req-${++requestSeq}`, chain_id: gw.chain.chainId, organization: org.address, project_id: String(project.id),
        wallet: owner.account.address.toLowerCase(), model_id: MODEL_ID, model_amount: modelAmount, amount,
        status: status as 'charged', prompt_tokens: 10, completion_tokens: 5, total_tokens: 15,
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    for (const p of lineProducts) {
      await gw.w.db.insertInto('app.usage_line_products').values({ ledger_id: row.id, product: p.address, amount: p.price_per_call }).execute()
    }
    return row.id
  }

  const linesOf = (org: OrgView) =>
    gw.w.db.selectFrom('app.usage_ledger').selectAll().where('organization', '=', org.address).orderBy('id').execute()
  const batchesOf = (org: OrgView) =>
    gw.w.db.selectFrom('app.settlement_batches').selectAll().where('organization', '=', org.address).orderBy('created_at').execute()
  const tokenBalance = (address: string) =>
    gw.dev.publicClient.readContract({ address: gw.dev.deployment.tusdt, abi: testUSDTAbi, functionName: 'balanceOf', args: [address as Address] })
  async function indexed<T>(read: () => Promise<T>): Promise<T> {
    await gw.indexer.caughtUp()
    return read()
  }
  const creatorRevenue = () =>
    indexed(() => gw.w.db.selectFrom('chain.creators').select('revenue').where('address', '=', creator.account.address.toLowerCase()).executeTakeFirstOrThrow())
      .then((r) => BigInt(r.revenue))
  const productRevenue = (p: ProductView) =>
    indexed(() => gw.w.db.selectFrom('chain.products').select('revenue').where('address', '=', p.address).executeTakeFirstOrThrow())
      .then((r) => BigInt(r.revenue))

  beforeAll(async () => {
    gw = await startTestGateway()
    ;[owner, creator] = await Promise.all([gw.dev.wallet(1), gw.dev.wallet(2)])
    ownerToken = await gw.signIn(owner)
    rich = await createOrg('Settles Fine', parseEther('100'))
    poor = await createOrg('Cannot Pay', 0n)
    projects.push(await createProject(rich, 'Bot one'), await createProject(rich, 'Bot two'))
    poorProject = await createProject(poor, 'Broke bot')

    await gw.registerCreator(creator)
    const creatorToken = await gw.signIn(creator)
    for (const [name, price] of [['Prompts A', parseEther('0.002')], ['Prompts B', parseEther('0.0035')]] as const) {
      const hash = await creator.writeContract({
        address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'addProduct',
        args: [name, 'data:application/json,["hi"]', 'iv', 'key-for-tee', 'promptset', price],
      })
      await waitForSuccess(gw.dev.publicClient, hash)
      const answer = await gw.call<{ created: ProductView[] }>('POST', '/api/v1/products', { token: creatorToken, query: { tx_hash: hash } })
      expect(answer.status).toBe(200)
      products.push(answer.body.data.created[0]!)
    }
    for (const p of products) {
      await waitForSuccess(gw.dev.publicClient, await owner.writeContract({
        address: rich.address as Address, abi: haitheOrganizationAbi, functionName: 'enableProduct', args: [p.address as Address],
      }))
    }

    settler = createSettler({
      db: gw.w.db, chain: gw.chain, outbox: gw.w.outbox, logger: gw.w.logger, metrics: gw.w.metrics,
      maxLinesPerBatch: 100, failureBackoffMs: 3_600_000,
    })
  }, 120_000)
  afterAll(() => gw?.close())

  it('settles the charged lines of two projects in one settleUsage batch, marked settled with its transaction', async () => {
    const [pA, pB] = products as [ProductView, ProductView]
    const [one, two] = projects as [ProjectView, ProjectView]
    await chargedLine(rich, one, MODEL_PRICE, [pA])
    await chargedLine(rich, one, 0n, [pA, pB])
    await chargedLine(rich, two, MODEL_PRICE, [])
    await chargedLine(rich, two, MODEL_PRICE, [pB])
    // Neither a reserved nor a released line is settled.
    await chargedLine(rich, two, MODEL_PRICE, [pA], 'reserved')
    await chargedLine(rich, two, MODEL_PRICE, [pA], 'released')

    const balanceBefore = await tokenBalance(rich.address)
    const creatorBefore = await creatorRevenue()
    const [productABefore, productBBefore] = [await productRevenue(pA), await productRevenue(pB)]

    const first = await settler.tick()
    expect(first.created.map((b) => b.organization)).toEqual([rich.address])
    const batch = first.created[0]!
    expect(batch.batchId).toMatch(/^0x[0-9a-f]{64}$/)
    const expectedTotal = 3n * MODEL_PRICE + 2n * BigInt(pA.price_per_call) + 2n * BigInt(pB.price_per_call)
    expect(batch.total).toBe(expectedTotal)
    expect(batch.lines).toBe(4)
    expect(batch.call.modelFee).toBe(3n * MODEL_PRICE)
    expect(batch.call.modelCalls).toBe(4n)

    // A line charged while the batch is open goes to the next batch.
    const late = await chargedLine(rich, one, MODEL_PRICE, [])
    expect((await linesOf(rich)).find((l) => l.id === late)?.batch_id).toBeNull()

    const entry = await gw.w.outbox.settled(batch.outboxId, 60_000)
    expect(entry).toMatchObject({ status: 'confirmed', kind: 'settle-usage' })

    await eventually(async () => { await settler.tick(); return batchesOf(rich) }, (bs) => bs.length > 0 && bs.every((b) => b.status === 'settled'), 'settled batches')
    await eventually(async () => { await settler.tick(); return linesOf(rich) }, (ls) => ls.filter((l) => l.status === 'charged').every((l) => l.settled_at !== null), 'settled lines')

    const lines = await linesOf(rich)
    const inFirst = lines.filter((l) => l.batch_id === batch.batchId)
    expect(inFirst).toHaveLength(4)
    expect(inFirst.every((l) => l.settled_tx === entry.txHash && l.settled_at !== null)).toBe(true)
    const lateLine = lines.find((l) => l.id === late)!
    expect(lateLine.batch_id).not.toBe(batch.batchId)
    expect(lateLine.settled_tx).not.toBeNull()
    expect(lines.filter((l) => l.status !== 'charged').every((l) => l.batch_id === null && l.settled_at === null)).toBe(true)

    const batches = await batchesOf(rich)
    expect(batches).toHaveLength(2)
    expect(batches[0]).toMatchObject({ batch_id: batch.batchId, status: 'settled', tx_hash: entry.txHash, total: expectedTotal.toString(), lines: 4 })

    // One settleUsage transaction per batch.
    const sent = await gw.w.db.selectFrom('app.tx_outbox').select(['idempotency_key', 'status']).where('kind', '=', 'settle-usage').execute()
    expect(sent.map((s) => s.idempotency_key).sort()).toEqual(batches.map((b) => `settle:${b.batch_id}`).sort())

    // The chain paid the creator exactly the products' amounts, and took exactly the totals from the organization.
    const settledTotal = expectedTotal + MODEL_PRICE
    expect(balanceBefore - (await tokenBalance(rich.address))).toBe(settledTotal)
    expect((await creatorRevenue()) - creatorBefore).toBe(2n * BigInt(pA.price_per_call) + 2n * BigInt(pB.price_per_call))
    expect((await productRevenue(pA)) - productABefore).toBe(2n * BigInt(pA.price_per_call))
    expect((await productRevenue(pB)) - productBBefore).toBe(2n * BigInt(pB.price_per_call))

    // The ledger and the chain agree.
    const [r] = await reconcile(gw.w, rich.address)
    expect(r).toEqual({ organization: rich.address, ledgerSettled: settledTotal, onChainSettled: settledTotal, difference: 0n })
    const metrics = await gw.w.metrics.metrics()
    expect(metrics).toMatch(new RegExp(`settlement_reconciliation_difference\\{organization="${rich.address}"\\} 0`))
    expect(metrics).toMatch(/settlement_batches_total\{outcome="settled"\} 2/)
  }, 120_000)

  it('answers the reconciliation to the owner with decimal strings, and lists the batches', async () => {
    const [reconciliation, settlements] = settlementRoutes
    const principal = { kind: 'session' as const, address: owner.account.address as Address, sessionId: 'test' }
    const call = (r: typeof reconciliation) => r!.handle({ w: gw.w, c: undefined as never, input: { id: rich.id }, principal, rawBody: undefined })
    const answer = await call(reconciliation)
    const total = (await linesOf(rich)).filter((l) => l.settled_at !== null).reduce((s, l) => s + BigInt(l.amount), 0n).toString()
    expect(answer.data).toEqual({ organization: rich.address, ledger_settled: total, on_chain_settled: total, difference: '0' })
    const listed = (await call(settlements)).data as { status: string }[]
    expect(listed.map((b) => b.status)).toEqual(['settled', 'settled'])
    // Someone without a role in the organization is refused.
    const stranger = { ...principal, address: creator.account.address as Address }
    await expect(reconciliation!.handle({ w: gw.w, c: undefined as never, input: { id: rich.id }, principal: stranger, rawBody: undefined }))
      .rejects.toMatchObject({ status: 403 })
  })

  it('settles nothing twice: another round sends nothing and the chain has each batch id once', async () => {
    const round = await settler.tick()
    expect(round).toEqual({ outcomes: [], created: [] })
    await gw.indexer.caughtUp()
    const payments = await gw.w.db
      .selectFrom('chain.payments').select('batch_id').where('kind', '=', 'settlement').where('organization', '=', rich.address).execute()
    const batches = await batchesOf(rich)
    expect(payments.map((p) => p.batch_id).sort()).toEqual(batches.map((b) => b.batch_id).sort())
  })

  it('fails the batch of an organization without tUSDT and puts its lines back, without retrying at once', async () => {
    await chargedLine(poor, poorProject, MODEL_PRICE, [])
    await chargedLine(poor, poorProject, MODEL_PRICE, [products[0]!])
    const round = await settler.tick()
    expect(round.created.map((b) => b.organization)).toEqual([poor.address])
    const batch = round.created[0]!
    const entry = await gw.w.outbox.settled(batch.outboxId, 60_000)
    expect(entry.status).toBe('failed')

    const next = await settler.tick()
    expect(next.outcomes).toEqual([expect.objectContaining({ batchId: batch.batchId, outcome: 'failed' })])
    // Backing off: the lines are not batched again in this round.
    expect(next.created).toEqual([])
    expect(await batchesOf(poor)).toEqual([expect.objectContaining({ batch_id: batch.batchId, status: 'failed', tx_hash: null })])
    const lines = await linesOf(poor)
    expect(lines.every((l) => l.batch_id === null && l.settled_at === null && l.status === 'charged')).toBe(true)
    expect((await settler.tick()).created).toEqual([])
    expect(await gw.w.metrics.metrics()).toMatch(/settlement_batches_total\{outcome="failed"\} 1/)
    const [r] = await reconcile(gw.w, poor.address)
    expect(r!.difference).toBe(0n)
  })

  it('leaves nothing half-done when queueing the transaction fails: no batch, the lines still unbatched', async () => {
    const line = await chargedLine(rich, projects[0]!, MODEL_PRICE, [products[1]!])
    const broken: Outbox = { ...gw.w.outbox, enqueue: () => Promise.reject(new Error('the process died here')) }
    const before = await batchesOf(rich)
    await expect(createBatch({ db: gw.w.db, chain: gw.chain, outbox: broken }, rich.address, 100)).rejects.toThrow('the process died here')
    expect(await batchesOf(rich)).toHaveLength(before.length)
    expect((await linesOf(rich)).find((l) => l.id === line)).toMatchObject({ batch_id: null, settled_at: null })
  })
})
