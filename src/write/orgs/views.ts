/**
 * What the organization routes answer, in v1's shapes: integer ids, lowercased addresses,
 * amounts as decimal strings, ISO timestamps. Fields v1 did not have are additions clients ignore.
 */
import type { OrgRole } from '../access/roles.js'

export interface OrganizationRow {
  address: string
  index: string
  owner: string
  name: string
  created_block: string
  created_tx: string
  created_at: Date
  display_name: string | null
  archived_at: Date | null
}

export interface OrganizationView {
  /** The orchestrator index + 1. */
  id: number
  /** The address without 0x: what `Haithe-Organization: org-<uid>` carries. */
  organization_uid: string
  /** v1's field: the 1-based position in the orchestrator (= id). */
  orchestrator_idx: number
  /** The display name (PATCH /orgs/:id), else the name on chain. */
  name: string
  onchain_name: string
  address: string
  owner: string
  created_at: string
  created_block: number
  created_tx: string
  /** The caller's role, where the route knows the caller. */
  role?: OrgRole
}

export function toOrganizationView(row: OrganizationRow, role?: OrgRole): OrganizationView {
  const id = Number(row.index) + 1
  return {
    id,
    organization_uid: row.address.toLowerCase().replace(/^0x/, ''),
    orchestrator_idx: id,
    name: row.display_name ?? row.name,
    onchain_name: row.name,
    address: row.address.toLowerCase(),
    owner: row.owner.toLowerCase(),
    created_at: row.created_at.toISOString(),
    created_block: Number(row.created_block),
    created_tx: row.created_tx,
    ...(role ? { role } : {}),
  }
}

export interface OrgMemberView {
  org_id: number
  wallet_address: string
  role: 'admin' | 'member'
  created_at: string
}

export function toOrgMemberView(orgId: number, row: { address: string; role: 'admin' | 'member'; created_at: Date }): OrgMemberView {
  return { org_id: orgId, wallet_address: row.address.toLowerCase(), role: row.role, created_at: row.created_at.toISOString() }
}

/** v1's model catalogue entry; the price in tUSDT base units (18 decimals) as a decimal string. */
export interface ModelView {
  id: number
  name: string
  display_name: string
  provider: string
  is_active: boolean
  price_per_call: string
}

export function toModelView(row: { id: number; name: string; display_name: string; provider: string; is_active: boolean; price_per_call: string }): ModelView {
  return {
    id: row.id,
    name: row.name,
    display_name: row.display_name,
    provider: row.provider,
    is_active: row.is_active,
    price_per_call: String(row.price_per_call),
  }
}
