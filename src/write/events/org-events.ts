/**
 * An organization's usage and settlement events, published with NOTIFY on one channel in the
 * transaction that makes the change (so they go out on commit, and never for a rolled-back change),
 * and heard by every gateway replica with LISTEN (see org-event-hub.ts).
 */
import { sql, type Kysely } from 'kysely'
import { z } from 'zod'
import type { Database } from '../../db/index.js'

export const ORG_EVENTS_CHANNEL = 'haithe_usage'

/** NOTIFY refuses payloads of 8000 bytes or more; ours are a few hundred. */
const MAX_PAYLOAD_BYTES = 7_900
/** The only field a client shapes (its X-Request-Id, at most 128 characters, plus our suffix). */
const MAX_REQUEST_ID_CHARS = 256

/** A ledger line charged or released. */
export interface UsageEvent {
  type: 'usage'
  chainId: number
  /** Lowercased 0x address. */
  organization: string
  requestId: string
  projectId: string
  modelId: number
  /** Base units, as a decimal string. */
  amount: string
  status: 'charged' | 'released'
  tokens: { prompt: number; completion: number; total: number } | null
}

/** Ledger lines marked settled: their batch's transaction is in the index. */
export interface SettlementEvent {
  type: 'settlement'
  chainId: number
  organization: string
  batchId: string
  txHash: string
  lines: number
  /** Base units, as a decimal string. */
  amount: string
}

export type OrgEvent = UsageEvent | SettlementEvent

const decimal = z.string().regex(/^[0-9]{1,78}$/)
const orgEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('usage'), chainId: z.number().int(), organization: z.string(), requestId: z.string(), projectId: z.string(),
    modelId: z.number().int(), amount: decimal, status: z.enum(['charged', 'released']),
    tokens: z.object({ prompt: z.number(), completion: z.number(), total: z.number() }).nullable(),
  }),
  z.object({
    type: z.literal('settlement'), chainId: z.number().int(), organization: z.string(), batchId: z.string(), txHash: z.string(),
    lines: z.number().int(), amount: decimal,
  }),
])

/** The event in a NOTIFY payload; undefined for anything else (another version's payload, say). */
export function parseOrgEvent(payload: string): OrgEvent | undefined {
  let json: unknown
  try {
    json = JSON.parse(payload)
  } catch {
    return undefined
  }
  const parsed = orgEventSchema.safeParse(json)
  return parsed.success ? parsed.data : undefined
}

/** The NOTIFY payload of an event; refused here, where it is clear why, if NOTIFY would refuse it (and roll back the change it reports). */
function payloadOf(event: OrgEvent): string {
  const payload = JSON.stringify(event)
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) throw new Error(`a ${event.type} event of ${Buffer.byteLength(payload)} bytes exceeds NOTIFY's limit`)
  return payload
}

/**
 * The NOTIFY payload of a usage event: the statement that charges or releases the line selects
 * `pg_notify(ORG_EVENTS_CHANNEL, payload)` from the changed row, so the event goes out exactly
 * when the change commits.
 */
export function usageEventPayload(event: Omit<UsageEvent, 'type'>): string {
  return payloadOf({ type: 'usage', ...event, organization: event.organization.toLowerCase(), requestId: event.requestId.slice(0, MAX_REQUEST_ID_CHARS) })
}

/** Publishes a settlement event; call it inside the transaction that marks the lines settled. */
export async function publishSettlement(trx: Kysely<Database>, event: Omit<SettlementEvent, 'type'>): Promise<void> {
  const payload = payloadOf({ type: 'settlement', ...event, organization: event.organization.toLowerCase() })
  await sql`select pg_notify(${ORG_EVENTS_CHANNEL}, ${payload})`.execute(trx)
}
