/** GET /api/v1/tx/{id}: the status of a server transaction, for the wallet it was sent for. */
import { z } from 'zod'
import { notFound } from '../http/errors.js'
import { id } from '../http/inputs.js'
import { route, walletOf, type WriteRoute } from '../http/route.js'
import { entryJson } from './views.js'

export const transactionRoutes: WriteRoute[] = [
  route({
    method: 'GET',
    path: '/v1/tx/:id',
    access: 'wallet',
    summary: 'The status of a transaction the server sent for the caller (queued, pending, mined, confirmed or failed)',
    input: z.object({ id }),
    async handle({ w, input, principal }) {
      const entry = await w.outbox.get(String(input.id))
      // Someone else's transaction is answered like a missing one: ids are sequential, so a 403 would confirm it exists.
      if (!entry || entry.requestedBy?.toLowerCase() !== walletOf(principal)) throw notFound(`no transaction ${input.id} of yours`)
      return { data: entryJson(entry) }
    },
  }),
]
