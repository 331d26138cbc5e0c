/**
 * Market figures from the index (v1 asked a block explorer for transaction counts of every
 * contract, one request each; the index already has the totals).
 */
import { z } from 'zod'
import { route } from '../http/route.js'
import { indexedBlock } from '../chain-reads.js'

export const statsRoutes = [
  route({
    method: 'GET',
    path: '/v1/stats',
    access: 'public',
    summary: 'Market totals: organizations, creators, products, paid calls, volume (tUSDT base units); the server account',
    input: z.object({}),
    async handle({ w }) {
      const totals = await w.db.selectFrom('chain.market_totals').selectAll().where('chain_id', '=', w.chain.chainId).executeTakeFirst()
      let serverTransactions: number | null = null
      try {
        serverTransactions = await w.publicClient.getTransactionCount({ address: w.account.address })
      } catch {
        // The totals come from the index; the server's count is a detail the node may fail to give.
      }
      return {
        data: {
          organizations: totals?.organizations ?? '0',
          creators: totals?.creators ?? '0',
          products: totals?.products ?? '0',
          calls: totals?.calls ?? '0',
          volume: totals?.volume ?? '0',
          indexed_block: await indexedBlock(w),
          // v1's `server` object: the account that sends the server's transactions
          server: { address: w.account.address.toLowerCase(), transactionsCount: serverTransactions },
        },
        message: 'market statistics',
      }
    },
  }),
]
