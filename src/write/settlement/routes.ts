/** Settlement of usage: the reconciliation of an organization and its settlement batches (owner or admin). */
import { z } from 'zod'
import { requireOrgRole, type OrgRole } from '../access/roles.js'
import { id } from '../http/inputs.js'
import { route, type WriteRoute, walletOf } from '../http/route.js'
import { reconcile } from './reconcile.js'

const MANAGERS: readonly OrgRole[] = ['owner', 'admin']
const orgPath = z.object({ id })

export const settlementRoutes: WriteRoute[] = [
  route({
    method: 'GET', path: '/v1/orgs/:id/reconciliation', access: 'wallet',
    summary:
      'Settled ledger total against the on-chain settlement total of the organization\'s batches, and their difference '
      + '(tUSDT base units, decimal strings; "0" when they agree) (owner or admin).',
    input: orgPath,
    async handle({ w, principal, input }) {
      const { org } = await requireOrgRole(w, input.id, walletOf(principal), MANAGERS)
      const [r] = await reconcile(w, org.address)
      return {
        data: {
          organization: org.address,
          ledger_settled: (r?.ledgerSettled ?? 0n).toString(),
          on_chain_settled: (r?.onChainSettled ?? 0n).toString(),
          difference: (r?.difference ?? 0n).toString(),
        },
        message: 'Reconciliation fetched',
      }
    },
  }),

  route({
    method: 'GET', path: '/v1/orgs/:id/settlements', access: 'wallet',
    summary: 'The organization\'s settlement batches, newest first (at most 100): batch id, status, total, lines, transaction (owner or admin).',
    input: orgPath,
    async handle({ w, principal, input }) {
      const { org } = await requireOrgRole(w, input.id, walletOf(principal), MANAGERS)
      const rows = await w.db
        .selectFrom('app.settlement_batches')
        .selectAll()
        .where('chain_id', '=', w.chain.chainId)
        .where('organization', '=', org.address)
        .orderBy('created_at', 'desc')
        .orderBy('batch_id')
        .limit(100)
        .execute()
      return {
        data: rows.map((b) => ({
          batch_id: b.batch_id, status: b.status, total: b.total, lines: b.lines, outbox_id: b.outbox_id === null ? null : Number(b.outbox_id),
          tx_hash: b.tx_hash, created_at: b.created_at, settled_at: b.settled_at,
        })),
        message: 'Settlements fetched',
      }
    },
  }),
]
