// Organization events (usage, settlement): published with NOTIFY in the changing transaction, heard with LISTEN.
export { ORG_EVENTS_CHANNEL, parseOrgEvent, publishSettlement, usageEventPayload, type OrgEvent, type SettlementEvent, type UsageEvent } from './org-events.js'
export { createOrgEventHub, OrgEventsUnavailableError, type ListenFn, type OrgEventHub, type OrgEventHubOptions, type OrgEventSink } from './org-event-hub.js'
