/**
 * Webhook events and the one kind the gateway acts on: a paid top-up of an organization.
 *
 * Every delivery is JSON `{ "id": "<event id>", "type": "<event type>", "data": { ... } }`.
 *
 * - `stripe` scheme: `checkout.session.completed` (when its `payment_status` is `paid`),
 *   `checkout.session.async_payment_succeeded` and `payment_intent.succeeded`, whose object
 *   (`data.object`) carries `metadata: { organization, amount }`.
 * - `header` scheme: `top_up.paid` with `data: { organization, amount }`.
 *
 * `organization` is the organization's address, its integer id, or `org-<uid>`; `amount` is
 * the tUSDT to credit in base units (a decimal string). A paid event without that metadata is
 * not a top-up (acknowledged, ignored); with malformed metadata it is refused (422), so the
 * provider shows the delivery as failed.
 */
import { z } from 'zod'
import { WriteError } from '../http/errors.js'
import type { WebhookReceiver } from './verify.js'

export const webhookEvent = z.object({
  id: z.string({ error: 'id: must be the event id (a string)' }).min(1, 'id: must not be empty').max(255, 'id: must be at most 255 characters'),
  type: z.string({ error: 'type: must be the event type (a string)' }).min(1, 'type: must not be empty').max(255, 'type: must be at most 255 characters'),
  data: z.record(z.string(), z.unknown()).optional(),
})
export type WebhookEvent = z.infer<typeof webhookEvent>

export const STRIPE_PAID_TYPES = new Set(['checkout.session.completed', 'checkout.session.async_payment_succeeded', 'payment_intent.succeeded'])
export const GENERIC_TOP_UP_TYPE = 'top_up.paid'

export type OrganizationRef = { kind: 'address'; address: `0x${string}` } | { kind: 'id'; id: number }

export interface TopUp {
  organization: OrganizationRef
  amount: bigint
}

const MAX_UINT256 = (1n << 256n) - 1n

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
}

function parseOrganization(value: unknown): OrganizationRef {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : ''
  if (/^0x[0-9a-fA-F]{40}$/.test(text)) return { kind: 'address', address: text.toLowerCase() as `0x${string}` }
  if (/^org-[0-9a-fA-F]{40}$/.test(text)) return { kind: 'address', address: `0x${text.slice(4).toLowerCase()}` }
  if (/^[1-9][0-9]{0,14}$/.test(text)) return { kind: 'id', id: Number(text) }
  throw new WriteError(422, 'the top-up metadata names no organization: organization must be its address, its id or org-<uid>', 'invalid_top_up')
}

function parseAmount(value: unknown): bigint {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : typeof value === 'string' ? value.trim() : ''
  if (!/^[0-9]{1,78}$/.test(text)) throw new WriteError(422, 'the top-up amount must be a whole number of tUSDT base units (a decimal string)', 'invalid_top_up')
  const amount = BigInt(text)
  if (amount === 0n || amount > MAX_UINT256) throw new WriteError(422, 'the top-up amount must be more than 0 and fit in uint256', 'invalid_top_up')
  return amount
}

/** The top-up an event asks for, or undefined when it is not one (then it is acknowledged and ignored). */
export function topUpOf(receiver: WebhookReceiver, event: WebhookEvent): TopUp | undefined {
  let metadata: Record<string, unknown> | undefined
  if (receiver.scheme === 'stripe') {
    if (!STRIPE_PAID_TYPES.has(event.type)) return undefined
    const object = asObject(event.data?.object)
    if (!object) return undefined
    // A completed checkout may still await an asynchronous payment: that one arrives as async_payment_succeeded.
    if (event.type === 'checkout.session.completed' && object.payment_status !== undefined && object.payment_status !== 'paid') return undefined
    metadata = asObject(object.metadata)
  } else {
    if (event.type !== GENERIC_TOP_UP_TYPE) return undefined
    metadata = event.data
  }
  if (!metadata || (metadata.organization === undefined && metadata.amount === undefined)) return undefined
  return { organization: parseOrganization(metadata.organization), amount: parseAmount(metadata.amount) }
}
