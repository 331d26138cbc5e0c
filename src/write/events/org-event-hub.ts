/**
 * Fans the organization events heard on LISTEN out to in-process subscribers (the WebSocket's
 * subscriptions), by organization. The LISTEN connection opens at the first subscription and
 * stays open until close(); when it was lost and comes back, subscribers are told events may have
 * been missed in between (`gap`).
 */
import type { ListenHandlers, Listener } from '../../db/index.js'
import type { Logger } from '../../obs/index.js'
import { ORG_EVENTS_CHANNEL, parseOrgEvent, type OrgEvent } from './org-events.js'

/** LISTEN on a channel of the primary database: `DatabaseHandle.listen`. */
export type ListenFn = (channel: string, handlers: ListenHandlers) => Promise<Listener>

export interface OrgEventSink {
  event(event: OrgEvent): void
  /** The LISTEN connection was lost and is back: events of the meantime may be missing. */
  gap(): void
}

export interface OrgEventHub {
  /** Delivers `organization`'s events (a lowercased 0x address) to `sink`; resolves with the way to stop. */
  subscribe(organization: string, sink: OrgEventSink): Promise<() => void>
  close(): Promise<void>
}

export interface OrgEventHubOptions {
  listen: ListenFn
  /** Events of other chains (another gateway on the same database) are not delivered. */
  chainId: number
  logger: Logger
}

/** The events' LISTEN connection could not be opened; the message says what failed. */
export class OrgEventsUnavailableError extends Error {
  override readonly name = 'OrgEventsUnavailableError'
}

export function createOrgEventHub(options: OrgEventHubOptions): OrgEventHub {
  const { listen, chainId, logger } = options
  const sinks = new Map<string, Set<OrgEventSink>>()
  let listener: Promise<Listener> | undefined
  let lost = false
  let closed = false

  const each = (organization: string | undefined, deliver: (sink: OrgEventSink) => void) => {
    const targets = organization === undefined ? [...sinks.values()].flatMap((set) => [...set]) : [...(sinks.get(organization) ?? [])]
    for (const sink of targets) {
      try {
        deliver(sink)
      } catch (err) {
        logger.error({ err }, 'delivering an organization event failed')
      }
    }
  }

  const handlers: ListenHandlers = {
    onMessage(payload) {
      const event = parseOrgEvent(payload)
      if (!event) return void logger.warn({ bytes: payload.length }, `${ORG_EVENTS_CHANNEL}: ignored a payload that is not an organization event`)
      if (event.chainId === chainId) each(event.organization, (sink) => sink.event(event))
    },
    onState(state) {
      if (state === 'lost') {
        lost = true
        logger.warn(`${ORG_EVENTS_CHANNEL}: LISTEN connection lost; subscriptions will be told when it is back`)
      } else if (lost) {
        lost = false
        each(undefined, (sink) => sink.gap())
      }
    },
  }

  const started = (): Promise<Listener> => {
    listener ??= listen(ORG_EVENTS_CHANNEL, handlers).catch((err: unknown) => {
      listener = undefined
      throw new OrgEventsUnavailableError(`cannot LISTEN for organization events: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    })
    return listener
  }

  return {
    async subscribe(organization, sink) {
      if (closed) throw new OrgEventsUnavailableError('the gateway is shutting down')
      await started()
      if (closed) throw new OrgEventsUnavailableError('the gateway is shutting down')
      const key = organization.toLowerCase()
      const set = sinks.get(key) ?? new Set<OrgEventSink>()
      sinks.set(key, set.add(sink))
      return () => {
        set.delete(sink)
        if (set.size === 0 && sinks.get(key) === set) sinks.delete(key)
      }
    },
    async close() {
      closed = true
      sinks.clear()
      const open = listener
      listener = undefined
      await open?.then((l) => l.close(), () => undefined)
    },
  }
}
