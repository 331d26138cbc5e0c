/**
 * Payment webhooks against anvil, the real database and HTTP: a signed top-up delivery credits
 * the organization on chain exactly once, however often (and however concurrently) the provider
 * delivers it; bad, stale and unsigned deliveries are refused and change nothing.
 */
import { createHmac } from 'node:crypto'
import { parseUnits, type Address } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { haitheOrchestratorAbi, testUSDTAbi } from '../src/chain/index.js'
import { waitForSuccess } from './support/devchain.js'
import { startTestGateway, type TestGateway } from './support/gateway.js'

const STRIPE_SECRET = 'whsec_test_0123456789abcdef'
const GENERIC_SECRET = 'generic-secret-0123456789'

let gw: TestGateway
let organization: Address
let organizationId: number

beforeAll(async () => {
  gw = await startTestGateway({
    config: {
      webhooks: {
        stripe: { secret: STRIPE_SECRET },
        generic: { secret: GENERIC_SECRET },
        unset: { scheme: 'header', header: 'x-unset-signature', secret: null, toleranceSeconds: 300 },
      },
    },
  })
  const owner = await gw.dev.wallet(31)
  const hash = await owner.writeContract({ address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: ['webhook-test org'] })
  const receipt = await waitForSuccess(gw.dev.publicClient, hash)
  await gw.indexer.caughtUp(Number(receipt.blockNumber))
  const row = await gw.database.db.selectFrom('chain.organizations').select(['address', 'index']).where('name', '=', 'webhook-test org').executeTakeFirstOrThrow()
  organization = row.address as Address
  organizationId = Number(row.index) + 1
})
afterAll(async () => {
  await gw?.close()
})

const balance = () => gw.dev.publicClient.readContract({ address: gw.dev.deployment.tusdt, abi: testUSDTAbi, functionName: 'balanceOf', args: [organization] })

function stripeSignature(body: string, timestamp = Math.floor(Date.now() / 1000), secret = STRIPE_SECRET): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

function genericSignature(body: string, secret = GENERIC_SECRET): string {
  return createHmac('sha256', secret).update(body).digest('hex')
}

interface Delivered {
  status: number
  body: { success: boolean; message: string; data?: { credited?: boolean; replayed?: boolean; transaction?: { id: number } | null } }
}

/** Delivers `body` exactly as given (the signature covers these bytes). */
async function deliver(provider: string, body: string, headers: Record<string, string>): Promise<Delivered> {
  const response = await fetch(`${gw.url}/api/v1beta/webhook/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
  return { status: response.status, body: (await response.json()) as Delivered['body'] }
}

/** One outbox transaction for the event, and the organization's balance on chain reaching `expected` (then exactly that). */
async function creditedOnce(key: string, expected: bigint): Promise<void> {
  const rows = await gw.database.db.selectFrom('app.tx_outbox').select('id').where('idempotency_key', '=', key).execute()
  expect(rows).toHaveLength(1)
  const deadline = Date.now() + 30_000
  while ((await balance()) < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
  expect(await balance()).toBe(expected)
}

describe('stripe scheme', () => {
  it('credits the organization exactly once for an event delivered three times at once and again later', async () => {
    const amount = parseUnits('25', 18)
    const before = await balance()
    // Stripe's own formatting (spacing, key order) must not matter: the signature covers the raw bytes.
    const body = `{"id": "evt_topup_1", "type": "checkout.session.completed",\n "data": {"object": {"payment_status": "paid", "metadata": {"organization": "${organization}", "amount": "${amount}"}}}}`
    const headers = { 'stripe-signature': stripeSignature(body) }
    const answers = await Promise.all([1, 2, 3].map(() => deliver('stripe', body, headers)))
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200])
    expect(answers.filter((a) => a.body.data?.credited === true)).toHaveLength(1)
    expect(answers.filter((a) => a.body.data?.replayed === true)).toHaveLength(2)

    await creditedOnce('webhook:stripe:evt_topup_1', before + amount)

    const later = await deliver('stripe', body, { 'stripe-signature': stripeSignature(body) })
    expect(later.status).toBe(200)
    expect(later.body.data?.replayed).toBe(true)
    expect(later.body.message).toMatch(/already processed/)
    expect(later.body.data?.transaction?.id).toBe(answers.find((a) => a.body.data?.credited)!.body.data!.transaction!.id)
    expect(await balance()).toBe(before + amount)
  })

  it('refuses a bad signature, a changed body, a stale timestamp and a missing header, crediting nothing', async () => {
    const before = await balance()
    const body = JSON.stringify({ id: 'evt_bad', type: 'payment_intent.succeeded', data: { object: { metadata: { organization, amount: '1000' } } } })
    const wrongSecret = await deliver('stripe', body, { 'stripe-signature': stripeSignature(body, undefined, 'whsec_wrong_0123456789abcdef') })
    expect(wrongSecret.status).toBe(401)
    expect(wrongSecret.body.success).toBe(false)
    const changed = await deliver('stripe', body.replace('1000', '9000'), { 'stripe-signature': stripeSignature(body) })
    expect(changed.status).toBe(401)
    const stale = await deliver('stripe', body, { 'stripe-signature': stripeSignature(body, Math.floor(Date.now() / 1000) - 301) })
    expect(stale.status).toBe(401)
    expect(stale.body.message).toMatch(/old/)
    expect((await deliver('stripe', body, {})).status).toBe(401)
    expect((await deliver('stripe', body, { 'stripe-signature': 'v1=abc' })).status).toBe(401)

    const recorded = await gw.database.db.selectFrom('app.webhook_events').select('event_id').where('event_id', '=', 'evt_bad').execute()
    expect(recorded).toEqual([])
    // The same event, properly signed, is then processed (nothing was recorded by the refusals).
    const good = await deliver('stripe', body, { 'stripe-signature': stripeSignature(body) })
    expect(good.body.data?.credited).toBe(true)
    await creditedOnce('webhook:stripe:evt_bad', before + 1000n)
  })

  it('acknowledges and ignores events that are not paid top-ups', async () => {
    const before = await balance()
    for (const [id, event] of [
      ['evt_other', { type: 'customer.created', data: { object: { id: 'cus_1' } } }],
      ['evt_unpaid', { type: 'checkout.session.completed', data: { object: { payment_status: 'unpaid', metadata: { organization, amount: '5' } } } }],
      ['evt_nometa', { type: 'payment_intent.succeeded', data: { object: { metadata: {} } } }],
    ] as const) {
      const body = JSON.stringify({ id, ...event })
      const answer = await deliver('stripe', body, { 'stripe-signature': stripeSignature(body) })
      expect(answer.status).toBe(200)
      expect(answer.body.data?.credited).toBe(false)
    }
    const rows = await gw.database.db.selectFrom('app.tx_outbox').select('id').where('idempotency_key', 'in', ['webhook:stripe:evt_other', 'webhook:stripe:evt_unpaid', 'webhook:stripe:evt_nometa']).execute()
    expect(rows).toEqual([])
    expect(await balance()).toBe(before)
  })

  it('refuses a top-up for an organization that does not exist on chain, or with a bad amount', async () => {
    for (const metadata of [{ organization: '0x000000000000000000000000000000000000dead', amount: '5' }, { organization: '9999', amount: '5' }, { organization, amount: '-5' }, { organization, amount: '0' }]) {
      const body = JSON.stringify({ id: `evt_refused_${metadata.organization}_${metadata.amount}`, type: 'payment_intent.succeeded', data: { object: { metadata } } })
      const answer = await deliver('stripe', body, { 'stripe-signature': stripeSignature(body) })
      expect(answer.status, answer.body.message).toBe(422)
    }
  })
})

describe('header scheme', () => {
  it('credits the organization named by its id exactly once across repeated deliveries', async () => {
    const amount = parseUnits('7.5', 18)
    const before = await balance()
    const body = JSON.stringify({ id: 'gen-topup-1', type: 'top_up.paid', data: { organization: organizationId, amount: amount.toString() } })
    const headers = { 'x-haithe-signature': genericSignature(body) }
    const answers = await Promise.all([1, 2, 3].map(() => deliver('generic', body, headers)))
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200])
    expect(answers.filter((a) => a.body.data?.credited === true)).toHaveLength(1)
    await creditedOnce('webhook:generic:gen-topup-1', before + amount)
    expect((await deliver('generic', body, { 'x-haithe-signature': `sha256=${genericSignature(body)}` })).body.data?.replayed).toBe(true)
    expect(await balance()).toBe(before + amount)
  })

  it('refuses a bad signature', async () => {
    const body = JSON.stringify({ id: 'gen-bad', type: 'top_up.paid', data: { organization, amount: '1' } })
    expect((await deliver('generic', body, { 'x-haithe-signature': genericSignature(body, 'another-secret-0123456789') })).status).toBe(401)
    expect((await deliver('generic', body, { 'x-haithe-signature': 'zz' })).status).toBe(401)
    // The stripe header does not sign a generic delivery.
    expect((await deliver('generic', body, { 'stripe-signature': stripeSignature(body) })).status).toBe(401)
  })
})

describe('receivers', () => {
  it('answers 404 for an unknown provider and 503 for one without a secret', async () => {
    const body = JSON.stringify({ id: 'x', type: 'top_up.paid', data: {} })
    const unknown = await deliver('paypal', body, { 'x-haithe-signature': genericSignature(body) })
    expect(unknown.status).toBe(404)
    const unset = await deliver('unset', body, { 'x-unset-signature': genericSignature(body) })
    expect(unset.status).toBe(503)
    expect(unset.body.message).toMatch(/no secret/)
  })

  it('refuses a signed body that is not an event', async () => {
    const body = JSON.stringify({ type: 'top_up.paid' })
    const answer = await deliver('generic', body, { 'x-haithe-signature': genericSignature(body) })
    expect(answer.status).toBe(400)
  })
})
