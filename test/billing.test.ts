/**
 * Billing of inference calls against the real ledger and a real, funded organization on anvil:
 * reservations never overspend under concurrency (balance and a scoped key's monthly limit),
 * charge and release change what is available, expenditure includes unsettled charges, and
 * GET /api/v1/orgs/:id/usage groups the charged lines.
 */
import { randomUUID } from 'node:crypto'
import { parseEther, type Address, type Hash } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { haitheOrchestratorAbi, type ChainWalletClient } from '../src/chain/index.js'
import { createGatewayServer, writeRoutes, type GatewayServer } from '../src/write/index.js'
import { DuplicateRequestError, InsufficientQuotaError, createBilling, releaseStaleReservations, type ChargeRequest, type Reservation } from '../src/write/billing/index.js'
import { createMetricsRegistry } from '../src/obs/index.js'
import { owedAmount } from '../src/write/billing/balance.js'
import { usageRoutes, type UsageGroupView } from '../src/write/billing/routes.js'
import { decodeLogs, waitForSuccess } from './support/devchain.js'
import { startTestGateway, type TestGateway } from './support/gateway.js'

interface Org { id: number; address: Address }

/** One call's price: the model's share plus one product's. */
const MODEL_AMOUNT = parseEther('0.0006')
const PRODUCT_AMOUNT = parseEther('0.0004')
const UNIT = MODEL_AMOUNT + PRODUCT_AMOUNT
const PRODUCT = '0x00000000000000000000000000000000000000aa' as Address

describe('billing', () => {
  let gw: TestGateway
  let owner: ChainWalletClient
  let member: ChainWalletClient
  let outsider: ChainWalletClient
  let ownerToken: string
  let memberToken: string
  let outsiderToken: string
  /** A server with the usage route mounted (until src/write/routes.ts lists it). */
  let usageServer: GatewayServer
  let usageUrl: string

  beforeAll(async () => {
    gw = await startTestGateway()
    ;[owner, member, outsider] = await Promise.all([gw.dev.wallet(1), gw.dev.wallet(2), gw.dev.wallet(3)])
    ;[ownerToken, memberToken, outsiderToken] = await Promise.all([gw.signIn(owner), gw.signIn(member), gw.signIn(outsider)])
    const routes = writeRoutes.includes(usageRoutes[0]!) ? writeRoutes : [...writeRoutes, ...usageRoutes]
    usageServer = createGatewayServer(gw.w, { routes })
    usageUrl = `http://127.0.0.1:${(await usageServer.listen('127.0.0.1', 0)).port}`
  })
  afterAll(async () => {
    await usageServer?.close()
    await gw?.close()
  })

  /** Creates an organization on chain, funds it with `balance`, waits for the index, and makes it visible through POST /orgs. */
  async function fundedOrg(name: string, balance: bigint): Promise<Org> {
    const hash: Hash = await owner.writeContract({ address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: [name] })
    const receipt = await waitForSuccess(gw.dev.publicClient, hash)
    const [created] = decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'OrganizationCreated' })
    const address = created!.args.organization.toLowerCase() as Address
    await gw.fund(address, balance)
    await gw.indexer.caughtUp()
    const answer = await gw.call<{ id: number }>('POST', '/api/v1/orgs', { token: ownerToken, query: { tx_hash: hash } })
    expect([200, 201]).toContain(answer.status)
    const funds = await gw.call<{ balance: string }>('GET', `/api/v1/orgs/${answer.body.data.id}/balance`, { token: ownerToken })
    expect(funds.body.data.balance).toBe(balance.toString())
    return { id: answer.body.data.id, address }
  }

  async function project(org: Org, name: string): Promise<string> {
    const answer = await gw.call<{ id: number }>('POST', '/api/v1/projects', { token: ownerToken, query: { org_id: org.id, name } })
    expect(answer.status).toBe(201)
    return String(answer.body.data.id)
  }

  function request(org: Org, projectId: string, extra: Partial<ChargeRequest> = {}): ChargeRequest {
    return {
      requestId: randomUUID(), organization: org.address, projectId, apiKeyId: null, monthlyLimit: null, wallet: owner.account.address,
      modelId: 2, modelAmount: MODEL_AMOUNT, products: [{ product: PRODUCT, amount: PRODUCT_AMOUNT }], ...extra,
    }
  }

  /** Runs every reservation at once; the successes and the refusals. */
  async function reserveAll(requests: ChargeRequest[]) {
    const outcomes = await Promise.allSettled(requests.map((r) => gw.w.billing.reserve(r)))
    const reserved = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []))
    return { reserved, refused }
  }

  async function ledgerSum(org: Org, status: 'reserved' | 'charged' | 'released'): Promise<bigint> {
    const rows = await gw.w.db.selectFrom('app.usage_ledger').select('amount').where('organization', '=', org.address).where('status', '=', status).execute()
    return rows.reduce((sum, r) => sum + BigInt(r.amount), 0n)
  }

  async function expenditure(org: Org) {
    const answer = await gw.call<{ expenditure: string; settled: string; unsettled: string }>('GET', `/api/v1/orgs/${org.id}/expenditure`, { token: ownerToken })
    expect(answer.status).toBe(200)
    return answer.body.data
  }

  /** The running total reservations check (app.billing_accounts.owed) is the ledger's own sum. */
  const expectAccountMatchesLedger = async (org: Org) => {
    const account = await gw.w.db.selectFrom('app.billing_accounts').select('owed').where('organization', '=', org.address).executeTakeFirstOrThrow()
    expect(BigInt(account.owed)).toBe(await owedAmount(gw.w.db, gw.chain.chainId, org.address))
  }

  it('lets exactly as many of 200 simultaneous calls through as the balance pays for', async () => {
    const org = await fundedOrg('Concurrent Co', 100n * UNIT)
    const projectId = await project(org, 'Load')
    // Half of them answer only once charged (so could be reserved in memory): near the edge they are reserved in the ledger too.
    const { reserved, refused } = await reserveAll(Array.from({ length: 200 }, (_, i) => request(org, projectId, { answerAwaitsCharge: i % 2 === 0 })))
    expect(reserved).toHaveLength(100)
    expect(reserved.every((r) => r.id !== null)).toBe(true)
    expect(refused).toHaveLength(100)
    for (const error of refused) {
      expect(error).toBeInstanceOf(InsufficientQuotaError)
      expect((error as InsufficientQuotaError).reason).toBe('balance')
    }
    expect(reserved.every((r) => r.amount === UNIT)).toBe(true)
    expect(await ledgerSum(org, 'reserved')).toBe(100n * UNIT)
    await expectAccountMatchesLedger(org)

    // The refusal says what the organization has, owes and needs.
    const late = await gw.w.billing.reserve(request(org, projectId)).catch((e: unknown) => e)
    expect(late).toBeInstanceOf(InsufficientQuotaError)
    expect((late as Error).message).toContain('has 0.1 tUSDT on chain, owes 0.1 tUSDT not yet settled, and this call needs 0.001 tUSDT')

    // The products each line used are recorded with it.
    const products = await gw.w.db.selectFrom('app.usage_line_products').select(['product', 'amount']).where('ledger_id', '=', reserved[0]!.id).execute()
    expect(products).toEqual([{ product: PRODUCT, amount: PRODUCT_AMOUNT.toString() }])
  })

  async function lineOf(requestId: string) {
    return gw.w.db.selectFrom('app.usage_ledger').select(['id', 'status', 'amount', 'total_tokens']).where('request_id', '=', requestId).executeTakeFirst()
  }

  it('reserves a call whose answer awaits its charge in memory while there is ample room, and writes its line once: charged or released', async () => {
    const org = await fundedOrg('Roomy Co', 5_000n * UNIT)
    const projectId = await project(org, 'Roomy')
    const awaits = () => request(org, projectId, { answerAwaitsCharge: true })
    // The first call learns the organization's room from its reservation statement.
    const first = await gw.w.billing.reserve(awaits())
    expect(first.id).not.toBeNull()
    await gw.w.billing.charge(first, { promptTokens: 1, completionTokens: 1, totalTokens: 2 })

    const [charged, released] = [await gw.w.billing.reserve(awaits()), await gw.w.billing.reserve(awaits())]
    expect([charged.id, released.id]).toEqual([null, null])
    expect(await lineOf(charged.requestId)).toBeUndefined()
    // A stream's tokens reach the client before its charge: it is always reserved in the ledger.
    const streamed = await gw.w.billing.reserve(request(org, projectId, { answerAwaitsCharge: false }))
    expect(streamed.id).not.toBeNull()
    await gw.w.billing.release(streamed)

    await gw.w.billing.charge(charged, { promptTokens: 5, completionTokens: 7, totalTokens: 12 })
    await gw.w.billing.release(released)
    expect(await lineOf(charged.requestId)).toMatchObject({ status: 'charged', amount: UNIT.toString(), total_tokens: 12 })
    expect(await lineOf(released.requestId)).toMatchObject({ status: 'released', amount: UNIT.toString(), total_tokens: null })
    const products = await gw.w.db.selectFrom('app.usage_line_products').select(['product', 'amount']).where('ledger_id', '=', (await lineOf(charged.requestId))!.id).execute()
    expect(products).toEqual([{ product: PRODUCT, amount: PRODUCT_AMOUNT.toString() }])
    expect(await ledgerSum(org, 'charged')).toBe(2n * UNIT)
    await expectAccountMatchesLedger(org)
  })

  it('refuses the charge of a call reserved in memory when another process spent the room meanwhile: nothing is overspent', async () => {
    const org = await fundedOrg('Contested Co', 2_000n * UNIT)
    const projectId = await project(org, 'Contested')
    const first = await gw.w.billing.reserve(request(org, projectId, { answerAwaitsCharge: true }))
    await gw.w.billing.charge(first, null)
    const inMemory = await gw.w.billing.reserve(request(org, projectId, { answerAwaitsCharge: true }))
    expect(inMemory.id).toBeNull()
    // Another gateway process takes all but half a call's price.
    const other = createBilling({ db: gw.w.db, chain: gw.chain, logger: gw.w.logger, metrics: createMetricsRegistry() })
    await other.reserve(request(org, projectId, { modelAmount: 1_998n * UNIT + UNIT / 2n, products: [] }))

    const refused = await gw.w.billing.charge(inMemory, { promptTokens: 1, completionTokens: 1, totalTokens: 2 }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(InsufficientQuotaError)
    expect((refused as InsufficientQuotaError).reason).toBe('balance')
    expect(await lineOf(inMemory.requestId)).toBeUndefined()
    expect(await owedAmount(gw.w.db, gw.chain.chainId, org.address)).toBe(2_000n * UNIT - UNIT / 2n)
    await expectAccountMatchesLedger(org)
    // The next call is reserved in the ledger again, and refused there.
    await expect(gw.w.billing.reserve(request(org, projectId, { answerAwaitsCharge: true }))).rejects.toBeInstanceOf(InsufficientQuotaError)
  })

  it('releases reservations no call closed once they are older than any call, and gives their amounts back', async () => {
    const org = await fundedOrg('Crashed Co', 3n * UNIT)
    const projectId = await project(org, 'Crash')
    // Reserved an hour ago by a gateway process that died before charging.
    const crashed = createBilling({ db: gw.w.db, chain: gw.chain, logger: gw.w.logger, metrics: createMetricsRegistry(), now: () => new Date(Date.now() - 3_600_000) })
    const old = await crashed.reserve(request(org, projectId))
    const recent = await gw.w.billing.reserve(request(org, projectId))
    expect(await releaseStaleReservations(gw.w.db, gw.chain.chainId, new Date(Date.now() - 60_000))).toBe(1)
    const statuses = await gw.w.db.selectFrom('app.usage_ledger').select(['id', 'status']).where('id', 'in', [old.id, recent.id]).orderBy('id').execute()
    expect(statuses.map((l) => l.status)).toEqual(['released', 'reserved'])
    await expectAccountMatchesLedger(org)
    // Its amount is available again: two more calls fit.
    const { reserved } = await reserveAll([request(org, projectId), request(org, projectId), request(org, projectId)])
    expect(reserved).toHaveLength(2)
  })

  it('refuses a second line for one request id', async () => {
    const org = await fundedOrg('Repeat Co', 10n * UNIT)
    const projectId = await project(org, 'Repeat')
    const first = request(org, projectId)
    await gw.w.billing.reserve(first)
    await expect(gw.w.billing.reserve(first)).rejects.toBeInstanceOf(DuplicateRequestError)
    expect(await ledgerSum(org, 'reserved')).toBe(UNIT)
  })

  it('decides every call of one batch on its own: two organizations, a repeated request id, a repeat of a ledger line, the edge of a balance', async () => {
    const small = await fundedOrg('Batch Small Co', 3n * UNIT)
    const large = await fundedOrg('Batch Large Co', 50n * UNIT)
    const smallProject = await project(small, 'Batch')
    const largeProject = await project(large, 'Batch')
    // Each organization's first call creates its account; after that, calls that arrive together share statements.
    await Promise.all([gw.w.billing.reserve(request(small, smallProject)), gw.w.billing.reserve(request(large, largeProject))])
    const earlier = request(large, largeProject)
    await gw.w.billing.reserve(earlier)
    const twice = request(large, largeProject)
    const calls = [
      ...Array.from({ length: 4 }, () => request(small, smallProject)), // 2 of these fit
      ...Array.from({ length: 10 }, () => request(large, largeProject)),
      twice, { ...twice }, // the same request id twice in one batch
    ]
    const outcomes = await Promise.allSettled(calls.map((r) => gw.w.billing.reserve(r)))
    const refusals = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).name : 'reserved'))
    expect(refusals.slice(0, 4).filter((r) => r === 'reserved')).toHaveLength(2)
    expect(refusals.slice(0, 4).filter((r) => r === 'InsufficientQuotaError')).toHaveLength(2)
    expect(refusals.slice(4, 14)).toEqual(Array(10).fill('reserved'))
    expect([...refusals.slice(14, 16)].sort()).toEqual(['DuplicateRequestError', 'reserved'])
    // A request id already in the ledger fails the batch's statement: its neighbours are still reserved.
    const again = await Promise.allSettled([{ ...earlier }, request(large, largeProject), request(large, largeProject)].map((r) => gw.w.billing.reserve(r)))
    expect(again.map((o) => (o.status === 'rejected' ? (o.reason as Error).name : 'reserved'))).toEqual(['DuplicateRequestError', 'reserved', 'reserved'])
    expect(await ledgerSum(small, 'reserved')).toBe(3n * UNIT)
    expect(await ledgerSum(large, 'reserved')).toBe(15n * UNIT)
    await expectAccountMatchesLedger(small)
    await expectAccountMatchesLedger(large)

    // Charges and releases that arrive together close their own lines, and only those.
    const reserved = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : [])).filter((r) => r.organization === large.address)
    await Promise.all(reserved.map((r, i) => (i % 2 === 0 ? gw.w.billing.charge(r, { promptTokens: i, completionTokens: 1, totalTokens: i + 1 }) : gw.w.billing.release(r))))
    const lines = await gw.w.db.selectFrom('app.usage_ledger').select(['id', 'status', 'total_tokens']).where('id', 'in', reserved.map((r) => r.id)).execute()
    const byId = new Map(lines.map((l) => [l.id, l]))
    reserved.forEach((r, i) => {
      expect(byId.get(r.id!)).toEqual({ id: r.id, status: i % 2 === 0 ? 'charged' : 'released', total_tokens: i % 2 === 0 ? i + 1 : null })
    })
    await expectAccountMatchesLedger(large)

    // A release, a new call and a repeat of a ledger line arrive together: the repeat is refused,
    // the release is made, and the new call takes the room it freed (the small organization is full).
    const smallLine = outcomes.slice(0, 4).flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))[0]!
    const [released, fresh, repeat] = await Promise.allSettled([gw.w.billing.release(smallLine), gw.w.billing.reserve(request(small, smallProject)), gw.w.billing.reserve({ ...earlier })])
    expect([released.status, fresh.status, repeat.status === 'rejected' && (repeat.reason as Error).name]).toEqual(['fulfilled', 'fulfilled', 'DuplicateRequestError'])
    expect(await ledgerSum(small, 'released')).toBe(UNIT)
    expect(await ledgerSum(small, 'reserved')).toBe(3n * UNIT)
    await expectAccountMatchesLedger(small)
  })

  it('makes released amounts available again; charged ones stay owed and count as expenditure until settled', async () => {
    const org = await fundedOrg('Charge Co', 10n * UNIT)
    const projectId = await project(org, 'Charges')
    const lines: Reservation[] = []
    for (let i = 0; i < 10; i++) lines.push(await gw.w.billing.reserve(request(org, projectId)))
    await expect(gw.w.billing.reserve(request(org, projectId))).rejects.toBeInstanceOf(InsufficientQuotaError)
    // Reservations are not expenditure.
    expect(await expenditure(org)).toEqual({ expenditure: '0', settled: '0', unsettled: '0' })

    for (const line of lines.slice(0, 5)) await gw.w.billing.charge(line, { promptTokens: 10, completionTokens: 5, totalTokens: 15 })
    for (const line of lines.slice(5, 8)) await gw.w.billing.release(line)
    // Repeats, and closing a line the other way, change nothing.
    await gw.w.billing.charge(lines[0]!, { promptTokens: 99, completionTokens: 99, totalTokens: 198 })
    await gw.w.billing.release(lines[0]!)
    await gw.w.billing.release(lines[5]!)
    await gw.w.billing.charge(lines[5]!, null)
    const first = await gw.w.db.selectFrom('app.usage_ledger').select(['status', 'total_tokens']).where('id', '=', lines[0]!.id).executeTakeFirstOrThrow()
    expect(first).toEqual({ status: 'charged', total_tokens: 15 })
    expect(await ledgerSum(org, 'charged')).toBe(5n * UNIT)
    expect(await ledgerSum(org, 'released')).toBe(3n * UNIT)

    // 5 charged + 2 reserved are owed: 3 calls' worth is available again, no more.
    const { reserved, refused } = await reserveAll(Array.from({ length: 6 }, () => request(org, projectId)))
    expect(reserved).toHaveLength(3)
    expect(refused).toHaveLength(3)
    expect(await expenditure(org)).toEqual({ expenditure: (5n * UNIT).toString(), settled: '0', unsettled: (5n * UNIT).toString() })
    await expectAccountMatchesLedger(org)

    // Once a charged line is settled (what the settler records when the index shows UsageSettled), it is no longer unsettled.
    await gw.w.db.updateTable('app.usage_ledger').set({ settled_at: new Date() }).where('id', '=', lines[0]!.id).execute()
    expect((await expenditure(org)).unsettled).toBe((4n * UNIT).toString())
  })

  it('enforces a scoped key\'s monthly limit under concurrency, apart from the organization\'s balance', async () => {
    const org = await fundedOrg('Limit Co', 100n * UNIT)
    const projectId = await project(org, 'Limited')
    const issued = await gw.call<{ id: number; monthly_limit: string }>('POST', `/api/v1/projects/${projectId}/keys`, {
      token: ownerToken, query: { role: 'developer', name: 'bot', monthly_limit: (10n * UNIT).toString() },
    })
    expect(issued.status).toBe(201)
    const keyed = { apiKeyId: String(issued.body.data.id), monthlyLimit: 10n * UNIT }
    const { reserved, refused } = await reserveAll(Array.from({ length: 30 }, () => request(org, projectId, keyed)))
    expect(reserved).toHaveLength(10)
    expect(refused).toHaveLength(20)
    for (const error of refused) expect((error as InsufficientQuotaError).reason).toBe('monthly_limit')
    expect((refused[0] as Error).message).toContain('may spend 0.01 tUSDT a month, has used 0.01 tUSDT')

    // Charged lines count against the limit; released ones do not.
    await gw.w.billing.charge(reserved[0]!, null)
    await gw.w.billing.release(reserved[1]!)
    await gw.w.billing.reserve(request(org, projectId, keyed))
    await expect(gw.w.billing.reserve(request(org, projectId, keyed))).rejects.toMatchObject({ reason: 'monthly_limit' })
    // The organization's balance still serves calls without the key.
    await gw.w.billing.reserve(request(org, projectId))
  })

  it('GET /orgs/:id/usage sums charged lines by project, model, key and day, for the owner and admins only', async () => {
    const org = await fundedOrg('Usage Co', 100n * UNIT)
    const [p1, p2] = [await project(org, 'One'), await project(org, 'Two')]
    const issued = await gw.call<{ id: number }>('POST', `/api/v1/projects/${p1}/keys`, { token: ownerToken, query: { role: 'developer', name: 'usage-bot' } })
    expect(issued.status).toBe(201)
    const keyId = String(issued.body.data.id)
    const cheap = { modelId: 2, modelAmount: MODEL_AMOUNT, products: [] }
    const dear = { modelId: 4, modelAmount: 3n * MODEL_AMOUNT }

    const l1 = await gw.w.billing.reserve(request(org, p1, { ...cheap, apiKeyId: keyId }))
    const l2 = await gw.w.billing.reserve(request(org, p1, dear))
    const l3 = await gw.w.billing.reserve(request(org, p2, { ...cheap, apiKeyId: keyId }))
    await gw.w.billing.reserve(request(org, p2, dear)) // stays reserved: not usage
    const l5 = await gw.w.billing.reserve(request(org, p1, cheap))
    await gw.w.billing.charge(l1, { promptTokens: 10, completionTokens: 5, totalTokens: 15 })
    await gw.w.billing.charge(l2, { promptTokens: 1, completionTokens: 1, totalTokens: 2 })
    await gw.w.billing.charge(l3, null)
    await gw.w.billing.release(l5)
    const a1 = MODEL_AMOUNT
    const a2 = 3n * MODEL_AMOUNT + PRODUCT_AMOUNT

    const usage = async (token: string, query: Record<string, string>) => {
      const target = new URL(`/api/v1/orgs/${org.id}/usage`, usageUrl)
      for (const [k, v] of Object.entries(query)) target.searchParams.set(k, v)
      const response = await fetch(target, { headers: { authorization: `Bearer ${token}` } })
      return { status: response.status, body: (await response.json()) as { data: UsageGroupView[] } }
    }
    const totals = (amount: bigint, calls: number, tokens: [number, number, number]) =>
      ({ amount: amount.toString(), calls, prompt_tokens: tokens[0], completion_tokens: tokens[1], total_tokens: tokens[2] })

    const byProject = await usage(ownerToken, { group_by: 'project' })
    expect(byProject.status).toBe(200)
    expect(byProject.body.data).toEqual([
      { group: Number(p1), label: 'One', ...totals(a1 + a2, 2, [11, 6, 17]) },
      { group: Number(p2), label: 'Two', ...totals(a1, 1, [0, 0, 0]) },
    ])
    const byModel = await usage(ownerToken, { group_by: 'model' })
    expect(byModel.body.data).toEqual([
      { group: 2, label: 'gemini-2.0-flash-lite', ...totals(2n * a1, 2, [10, 5, 15]) },
      { group: 4, label: 'gemini-2.5-flash', ...totals(a2, 1, [1, 1, 2]) },
    ])
    const byKey = await usage(ownerToken, { group_by: 'key' })
    expect(byKey.body.data).toEqual([
      { group: Number(keyId), label: 'usage-bot', ...totals(2n * a1, 2, [10, 5, 15]) },
      { group: null, label: null, ...totals(a2, 1, [1, 1, 2]) },
    ])
    const today = new Date().toISOString().slice(0, 10)
    const byDay = await usage(ownerToken, { group_by: 'day', from: today })
    expect(byDay.body.data).toEqual([{ group: today, ...totals(2n * a1 + a2, 3, [11, 6, 17]) }])
    expect((await usage(ownerToken, { group_by: 'day', to: today })).body.data).toEqual([])
    expect((await usage(ownerToken, { group_by: 'week' })).status).toBe(400)

    expect((await gw.call('POST', `/api/v1/orgs/${org.id}/members`, { token: ownerToken, query: { wallet_address: member.account.address, role: 'member' } })).status).toBeLessThan(300)
    expect((await usage(memberToken, { group_by: 'project' })).status).toBe(403)
    expect((await usage(outsiderToken, { group_by: 'project' })).status).toBe(403)
  })
})
