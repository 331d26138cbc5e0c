/**
 * End to end on anvil: chat calls through the official openai client → charged ledger lines →
 * one settleUsage transaction through the outbox → the indexer → the creator's revenue on the
 * read API's leaderboard, and the reconciliation check at zero difference.
 */
import OpenAI from 'openai'
import { parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LeaderboardEntry } from '../src/read/index.js'
import { createSettler } from '../src/write/index.js'
import { eventually } from './support/eventually.js'
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js'
import { startTestGateway, type TestGateway } from './support/gateway.js'
import { INFERENCE_MODEL, INFERENCE_MODEL_PRICE, setUpInferenceOrg, type InferenceOrg } from './support/inference-org.js'
import { startReadApi, type ReadApi } from './support/read-api.js'

const PRODUCT_PRICE = parseEther('0.003')
const CALLS = 5

describe('calls → ledger → settlement → index → leaderboard', () => {
  let fake: FakeUpstream
  let gw: TestGateway
  let api: ReadApi
  let ready: InferenceOrg
  let client: OpenAI

  beforeAll(async () => {
    fake = await startFakeUpstream()
    gw = await startTestGateway({ config: { providers: { groq: { apiKey: 'test-key', baseUrl: fake.url } } } })
    const [owner, creator] = await Promise.all([gw.dev.wallet(11), gw.dev.wallet(12)])
    ready = await setUpInferenceOrg(gw, { owner, creator }, { name: 'Settled Co', productPrice: PRODUCT_PRICE })
    const key = (await gw.call<{ api_key: string }>('GET', '/api/v1/me/api-key', { token: ready.ownerToken })).body.data.api_key
    client = new OpenAI({
      apiKey: key, baseURL: `${gw.url}/api/v1beta/openai`, organization: `org-${ready.org.organization_uid}`, project: `proj-${ready.project.project_uid}`, maxRetries: 0,
    })
    api = await startReadApi(gw.database, gw.chain.chainId)
  }, 180_000)

  afterAll(async () => {
    await api?.close()
    await gw?.close()
    await fake?.close()
  })

  it('settles what the calls were charged, and the creator climbs the leaderboard by exactly the product price per call', async () => {
    const balanceBefore = BigInt((await gw.database.db.selectFrom('chain.organizations').select('balance').where('address', '=', ready.org.address).executeTakeFirstOrThrow()).balance)
    for (let i = 0; i < CALLS; i++) {
      const answer = await client.chat.completions.create({ model: INFERENCE_MODEL, messages: [{ role: 'user', content: `call ${i}` }] })
      expect((answer.usage as unknown as { total_cost: string }).total_cost).toBe((INFERENCE_MODEL_PRICE + PRODUCT_PRICE).toString())
    }
    const charged = await gw.database.db.selectFrom('app.usage_ledger').select(['amount']).where('organization', '=', ready.org.address).where('status', '=', 'charged').execute()
    expect(charged).toHaveLength(CALLS)

    const settler = createSettler({ db: gw.w.db, chain: gw.chain, outbox: gw.w.outbox, logger: gw.w.logger, metrics: gw.w.metrics, maxLinesPerBatch: 100 })
    await eventually(async () => {
      await settler.tick()
      return gw.database.db.selectFrom('app.usage_ledger').select('id').where('organization', '=', ready.org.address).where('settled_at', 'is', null).execute()
    }, (open) => open.length === 0, 'the unsettled ledger lines')
    const batches = await gw.database.db.selectFrom('app.settlement_batches').selectAll().where('organization', '=', ready.org.address).execute()
    expect(batches).toHaveLength(1)
    expect(batches[0]).toMatchObject({ status: 'settled', lines: CALLS, total: ((INFERENCE_MODEL_PRICE + PRODUCT_PRICE) * BigInt(CALLS)).toString() })

    // The organization paid exactly the calls' price on chain.
    await gw.indexer.caughtUp()
    const balanceAfter = BigInt((await gw.database.db.selectFrom('chain.organizations').select('balance').where('address', '=', ready.org.address).executeTakeFirstOrThrow()).balance)
    expect(balanceBefore - balanceAfter).toBe((INFERENCE_MODEL_PRICE + PRODUCT_PRICE) * BigInt(CALLS))

    // The read API's leaderboard: the creator earned the product price per call.
    const board = await api.json<LeaderboardEntry[]>('/v1/leaderboards/creators', { window: 'all', metric: 'revenue' })
    const creatorId = (await gw.database.db.selectFrom('chain.products').select('creator_id').where('address', '=', ready.product.address).executeTakeFirstOrThrow()).creator_id
    const entry = board.find((e) => e.label === creatorId)
    expect(entry).toMatchObject({ revenue: (PRODUCT_PRICE * BigInt(CALLS)).toString(), calls: String(CALLS) })

    const reconciliation = await gw.call<{ ledger_settled: string; on_chain_settled: string; difference: string }>(
      'GET', `/api/v1/orgs/${ready.org.id}/reconciliation`, { token: ready.ownerToken },
    )
    expect(reconciliation.body.data).toEqual({
      organization: ready.org.address,
      ledger_settled: ((INFERENCE_MODEL_PRICE + PRODUCT_PRICE) * BigInt(CALLS)).toString(),
      on_chain_settled: ((INFERENCE_MODEL_PRICE + PRODUCT_PRICE) * BigInt(CALLS)).toString(),
      difference: '0',
    })
    // Settled lines are no longer owed: the whole balance is available again.
    const account = await gw.database.db.selectFrom('app.billing_accounts').select('owed').where('organization', '=', ready.org.address).executeTakeFirstOrThrow()
    expect(account.owed).toBe('0')
  })

  it('200 simultaneous calls against a balance that pays for 100: exactly 100 answer, the rest get 402, nothing is overspent', async () => {
    const price = INFERENCE_MODEL_PRICE + PRODUCT_PRICE
    const [owner, creator] = await Promise.all([gw.dev.wallet(13), gw.dev.wallet(14)])
    const tight = await setUpInferenceOrg(gw, { owner, creator }, { name: 'Tight Budget', productPrice: PRODUCT_PRICE, funds: price * 100n })
    const key = (await gw.call<{ api_key: string }>('GET', '/api/v1/me/api-key', { token: tight.ownerToken })).body.data.api_key
    const headers = {
      authorization: `Bearer ${key}`, 'content-type': 'application/json',
      'openai-organization': `org-${tight.org.organization_uid}`, 'openai-project': `proj-${tight.project.project_uid}`,
    }
    const body = JSON.stringify({ model: INFERENCE_MODEL, messages: [{ role: 'user', content: 'hi' }] })
    const answers = await Promise.all(Array.from({ length: 200 }, async () => {
      const response = await fetch(`${gw.url}/api/v1beta/openai/chat/completions`, { method: 'POST', headers, body })
      return { status: response.status, body: (await response.json()) as { error?: { type: string; code: string } } }
    }))
    expect(answers.filter((a) => a.status === 200)).toHaveLength(100)
    const refused = answers.filter((a) => a.status !== 200)
    expect(refused).toHaveLength(100)
    for (const a of refused) expect(a).toMatchObject({ status: 402, body: { error: { type: 'insufficient_quota', code: 'insufficient_quota' } } })

    const lines = await gw.database.db.selectFrom('app.usage_ledger').select(['status', 'amount']).where('organization', '=', tight.org.address).execute()
    expect(lines.filter((l) => l.status === 'charged')).toHaveLength(100)
    expect(lines.filter((l) => l.status === 'reserved')).toHaveLength(0)
    expect(lines.filter((l) => l.status === 'charged').reduce((sum, l) => sum + BigInt(l.amount), 0n)).toBe(price * 100n)
  }, 120_000)
})
