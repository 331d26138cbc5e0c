/** What the project routes answer, in v1's shapes (integer ids, lowercased addresses, ISO timestamps). */
import type { ProjectRole } from '../../db/index.js'
import type { OrgRole } from '../access/roles.js'

export interface ProjectRow {
  id: string
  uid: string
  organization: string
  /** The organization's orchestrator index. */
  org_index: string
  name: string
  search_enabled: boolean
  memory_enabled: boolean
  default_model_id: number | null
  created_at: Date
  updated_at: Date
}

export interface ProjectView {
  id: number
  org_id: number
  /** What `Haithe-Project: proj-<uid>` carries. */
  project_uid: string
  name: string
  search_enabled: boolean
  memory_enabled: boolean
  default_model_id: number | null
  organization: string
  created_at: string
  updated_at: string
  /** The caller's effective project role (admin for the organization's owner and admins), where known. */
  role?: ProjectRole | null
  org_role?: OrgRole | null
}

export function toProjectView(row: ProjectRow, caller?: { role: ProjectRole | null; orgRole: OrgRole | null }): ProjectView {
  return {
    id: Number(row.id),
    org_id: Number(row.org_index) + 1,
    project_uid: row.uid,
    name: row.name,
    search_enabled: row.search_enabled,
    memory_enabled: row.memory_enabled,
    default_model_id: row.default_model_id,
    organization: row.organization.toLowerCase(),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    ...(caller ? { role: caller.role, org_role: caller.orgRole } : {}),
  }
}

export interface ProjectMemberView {
  project_id: number
  wallet_address: string
  role: ProjectRole
  created_at: string
}

export function toProjectMemberView(projectId: string | number, row: { address: string; role: ProjectRole; created_at: Date }): ProjectMemberView {
  return { project_id: Number(projectId), wallet_address: row.address.toLowerCase(), role: row.role, created_at: row.created_at.toISOString() }
}
