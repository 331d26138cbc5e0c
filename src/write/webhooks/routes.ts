/**
 * Payment provider webhooks at POST /api/v1beta/webhook/{provider}: the signature is verified
 * over the exact raw body (see verify.ts), each event id is processed once (app.webhook_events),
 * and a paid top-up (see events.ts) credits the organization with a tUSDT transfer from the
 * server through the outbox. The event row and the outbox entry (key
 * `webhook:<provider>:<event id>`) commit in one database transaction, so a redelivery,
 * concurrent or later, sends nothing again.
 */
import { encodeFunctionData, type Address } from 'viem'
import { z } from 'zod'
import { haitheOrchestratorAbi, testUSDTAbi } from '../../chain/index.js'
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'
import { route, type WriteRoute } from '../http/route.js'
import { isRevert, readChain } from '../chain-reads.js'
import { transactionView, type TransactionView } from '../market/views.js'
import type { OutboxEntry } from '../signer/outbox.js'
import { topUpOf, webhookEvent, type OrganizationRef, type WebhookEvent } from './events.js'
import { verifyWebhookSignature } from './verify.js'

/** The organization's contract on chain (the chain is the truth: no index lag, and never a transfer to a non-organization). */
async function organizationOnChain(w: WriteContext, ref: OrganizationRef): Promise<Address> {
  const orchestrator = w.chain.contracts.orchestrator
  if (ref.kind === 'address') {
    const known = await readChain('the organization registry', () =>
      w.publicClient.readContract({ address: orchestrator, abi: haitheOrchestratorAbi, functionName: 'isOrganization', args: [ref.address] }))
    if (!known) throw new WriteError(422, `the top-up names ${ref.address}, which is not an organization on chain`, 'unknown_organization')
    return ref.address
  }
  try {
    const address = await readChain('the organization registry', () =>
      w.publicClient.readContract({ address: orchestrator, abi: haitheOrchestratorAbi, functionName: 'organizations', args: [BigInt(ref.id - 1)] }))
    return address.toLowerCase() as Address
  } catch (err) {
    if (isRevert(err)) throw new WriteError(422, `the top-up names organization ${ref.id}, which does not exist on chain`, 'unknown_organization')
    throw err
  }
}

function parseEvent(raw: string): WebhookEvent {
  let json: unknown
  try {
    json = JSON.parse(raw)
  } catch {
    throw new WriteError(400, 'the webhook body is not JSON')
  }
  const parsed = webhookEvent.safeParse(json)
  if (!parsed.success) throw new WriteError(400, `the webhook body is not an event {id, type, data}: ${parsed.error.issues.map((i) => i.message).join('; ')}`)
  return parsed.data
}

async function recordedTransaction(w: WriteContext, provider: string, eventId: string): Promise<TransactionView | null> {
  const row = await w.db.selectFrom('app.webhook_events').select('outbox_id').where('provider', '=', provider).where('event_id', '=', eventId).executeTakeFirst()
  const entry = row?.outbox_id != null ? await w.outbox.get(String(row.outbox_id)) : undefined
  return entry ? transactionView(entry) : null
}

function replayed(provider: string, event: WebhookEvent, transaction: TransactionView | null) {
  return {
    status: 200,
    data: { provider, event_id: event.id, type: event.type, replayed: true, transaction },
    message: `event ${event.id} was already processed; nothing was done again`,
  }
}

export const webhookRoutes: WriteRoute[] = [
  route({
    method: 'POST',
    path: '/v1beta/webhook/:provider',
    access: 'public',
    summary: 'Payment provider webhooks (HMAC-SHA256 signed): a paid top-up credits an organization with tUSDT, once per event id',
    // The event is read from the raw body after the signature is checked, not from these fields.
    input: z.looseObject({ provider: z.string() }),
    async handle({ w, input, c, rawBody }) {
      const provider = input.provider
      const receiver = Object.hasOwn(w.config.webhooks, provider) ? w.config.webhooks[provider] : undefined
      if (!receiver) throw new WriteError(404, `no webhook receiver named ${provider}`)
      const secret = receiver.secret
      if (!secret) {
        throw new WriteError(503, `the webhook receiver ${provider} has no secret configured (webhooks.${provider}.secret${provider === 'stripe' ? ' or STRIPE_WEBHOOK_SECRET' : provider === 'generic' ? ' or WEBHOOK_SECRET' : ''}); it refuses every delivery`, 'webhook_not_configured')
      }
      const raw = rawBody ?? ''
      verifyWebhookSignature({ ...receiver, secret }, c.get(receiver.header) || undefined, raw, Math.floor(w.now().getTime() / 1000))
      const event = parseEvent(raw)

      const seen = await w.db.selectFrom('app.webhook_events').select('event_id').where('provider', '=', provider).where('event_id', '=', event.id).executeTakeFirst()
      if (seen) return replayed(provider, event, await recordedTransaction(w, provider, event.id))

      const topUp = topUpOf(receiver, event)
      const organization = topUp ? await organizationOnChain(w, topUp.organization) : undefined
      const outcome = await w.db.transaction().execute(async (trx): Promise<{ fresh: boolean; entry?: OutboxEntry }> => {
        // Concurrent deliveries of one event meet here: the second waits on the key, then inserts nothing.
        const fresh = await trx
          .insertInto('app.webhook_events')
          .values({ provider, event_id: event.id, type: event.type })
          .onConflict((oc) => oc.columns(['provider', 'event_id']).doNothing())
          .returning('event_id')
          .executeTakeFirst()
        if (!fresh) return { fresh: false }
        if (!topUp || !organization) return { fresh: true }
        const entry = await w.outbox.enqueue({
          idempotencyKey: `webhook:${provider}:${event.id}`,
          kind: 'webhook-top-up',
          to: w.chain.contracts.tusdt,
          data: encodeFunctionData({ abi: testUSDTAbi, functionName: 'transfer', args: [organization, topUp.amount] }),
        }, trx)
        await trx.updateTable('app.webhook_events').set({ outbox_id: entry.id }).where('provider', '=', provider).where('event_id', '=', event.id).execute()
        return { fresh: true, entry }
      })
      if (!outcome.fresh) return replayed(provider, event, await recordedTransaction(w, provider, event.id))
      if (!outcome.entry || !topUp || !organization) {
        return { status: 200, data: { provider, event_id: event.id, type: event.type, credited: false }, message: `event ${event.id} (${event.type}) is not a top-up; acknowledged and ignored` }
      }
      const transaction = transactionView(outcome.entry)
      w.logger.info({ provider, eventId: event.id, organization, amount: topUp.amount.toString(), outboxId: outcome.entry.id }, 'webhook top-up queued')
      return {
        status: 200,
        data: { provider, event_id: event.id, type: event.type, credited: true, organization, amount: topUp.amount.toString(), transaction },
        message: `top-up of ${topUp.amount} tUSDT base units for ${organization} queued (transaction ${transaction.id}; GET ${transaction.poll})`,
      }
    },
  }),
]
