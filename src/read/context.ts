import type { Kysely } from 'kysely'
import type { Database } from '../db/index.js'

/** What every read query needs: the (read) database and the chain whose index it reads. */
export interface ReadContext {
  db: Kysely<Database>
  chainId: number
  /** The clock of time windows ("last 24 h"); tests pin it. */
  now?: () => Date
}

export const nowOf = (ctx: ReadContext): Date => (ctx.now ? ctx.now() : new Date())
