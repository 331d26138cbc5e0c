/** Who is calling the write path, once their credentials are verified. */
import type { Address } from 'viem'
import type { ProjectRole } from '../../db/index.js'

export type Principal =
  /** A signed-in wallet: a session JWT from POST /api/v1/auth/login. */
  | { kind: 'session'; address: Address; sessionId: string }
  /** v1's `sk-…` key of a wallet: acts as that wallet. */
  | { kind: 'walletKey'; address: Address; keyId: string }
  /** A scoped key: acts for one project of one organization, with a role and an optional monthly spend limit. */
  | {
      kind: 'scopedKey'
      /** The wallet that issued the key. */
      address: Address
      keyId: string
      organization: Address
      projectId: string
      role: ProjectRole
      monthlyLimit: bigint | null
    }

declare module 'koa' {
  interface DefaultState {
    /** Set by the write path's authentication when credentials were presented and verified. */
    principal?: Principal
  }
}
