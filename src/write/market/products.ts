/**
 * Products. They exist on chain (a creator calls addProduct) and appear here from the index;
 * their description and photo are application state set by their creator. A project chooses
 * which products it uses; a call uses a product only when the project enabled it here AND the
 * organization enabled it on chain (HaitheOrganization.enableProduct).
 */
import { parseEventLogs, type Hash } from 'viem'
import { z } from 'zod'
import { haitheOrchestratorAbi } from '../../chain/index.js'
import { requireProjectAccess } from '../access/roles.js'
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'
import { address, id } from '../http/inputs.js'
import { route, walletOf } from '../http/route.js'
import { awaitReceipt, indexedBlock, pollUntil, readChain } from '../chain-reads.js'
import { findProduct, listProducts, page } from './queries.js'
import type { ProductView } from './views.js'

const txHash = z
  .string()
  .trim()
  .regex(/^0x[0-9a-fA-F]{64}$/, 'must be a transaction hash (0x followed by 64 hex digits)')
  .transform((s) => s.toLowerCase() as Hash)

const category = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters')

/** Empty clears a field; otherwise at most `max` characters. */
const description = z.string().trim().max(5000, 'must be at most 5000 characters').nullable().transform((s) => (s ? s : null))
const photoUrl = z
  .union([
    z.literal('').transform(() => null),
    z.null(),
    z.url({ protocol: /^https$/, error: 'must be an https:// URL' }).max(2048, 'must be at most 2048 characters'),
  ], { error: 'must be an https:// URL (or empty to remove the photo)' })

async function productOr404(w: WriteContext, productId: number): Promise<ProductView> {
  const product = await findProduct(w, productId)
  if (!product) throw new WriteError(404, `product ${productId} does not exist (or is not indexed yet)`)
  return product
}

export const productRoutes = [
  route({
    method: 'GET',
    path: '/v1/products',
    access: 'public',
    summary: 'Products, newest first (from the index), with their description and photo',
    input: z.object({ creator: address.optional(), category: category.optional(), ...page }),
    async handle({ w, input }) {
      const { items, nextOffset } = await listProducts(w, { creator: input.creator, category: input.category }, input.limit, input.offset)
      return { data: { products: items, next_offset: nextOffset }, message: `${items.length} product(s)` }
    },
  }),
  route({
    method: 'GET',
    path: '/v1/products/:id',
    access: 'public',
    summary: 'One product (id = orchestrator index + 1)',
    input: z.object({ id }),
    async handle({ w, input }) {
      return { data: { product: await productOr404(w, input.id) }, message: 'product found' }
    },
  }),
  route({
    method: 'POST',
    path: '/v1/products',
    access: 'wallet',
    summary: "Makes new on-chain products visible: waits (bounded) for the index to reach the addProduct transaction (tx_hash) or the chain's head, then answers the caller's products",
    input: z.object({ tx_hash: txHash.optional() }),
    async handle({ w, input, principal }) {
      const wallet = walletOf(principal)
      let created: string[] = []
      let target: bigint
      if (input.tx_hash) {
        const receipt = await awaitReceipt(w, input.tx_hash, w.config.gateway.indexWaitMs)
        if (receipt === 'unknown') throw new WriteError(404, `the chain node does not know transaction ${input.tx_hash}`)
        if (receipt === 'pending') {
          return {
            status: 202,
            data: { status: 'pending', tx_hash: input.tx_hash, indexed_block: await indexedBlock(w), products: [], created: [] },
            message: `transaction ${input.tx_hash} is not mined yet; send the request again in a moment`,
          }
        }
        if (receipt.status !== 'success') throw new WriteError(400, `transaction ${input.tx_hash} reverted; it created no product`)
        const orchestrator = w.chain.contracts.orchestrator
        const events = parseEventLogs({ abi: haitheOrchestratorAbi, eventName: 'ProductCreated', logs: receipt.logs.filter((log) => log.address.toLowerCase() === orchestrator) })
        if (events.length === 0) throw new WriteError(400, `transaction ${input.tx_hash} created no product (it is not an addProduct call of the orchestrator)`)
        created = events.map((event) => event.args.product.toLowerCase())
        target = receipt.blockNumber
      } else {
        target = await readChain('the head block', () => w.publicClient.getBlockNumber())
      }
      const reached = await pollUntil(async () => {
        const block = await indexedBlock(w)
        return block !== null && BigInt(block) >= target ? block : undefined
      }, w.config.gateway.indexWaitMs)
      const mine = await listProducts(w, { creator: wallet }, 1000, 0)
      const fresh = created.length > 0 ? (await listProducts(w, { addresses: created }, 1000, 0)).items : []
      const data = {
        status: reached !== undefined ? 'indexed' : 'pending',
        indexed_block: reached ?? (await indexedBlock(w)),
        target_block: Number(target),
        count: mine.items.length,
        products: mine.items,
        created: fresh,
      }
      if (reached === undefined) {
        return { status: 202, data, message: `the index has not reached block ${target} yet; send the request again in a moment` }
      }
      return { data, message: input.tx_hash ? `${fresh.length} product(s) created by ${input.tx_hash}` : `${mine.items.length} product(s) of ${wallet}` }
    },
  }),
  route({
    method: 'PATCH',
    path: '/v1/products/:id',
    access: 'wallet',
    summary: "Sets a product's description and photo (its creator only)",
    input: z.object({ id, description: description.optional(), photo_url: photoUrl.optional() }),
    async handle({ w, input, principal }) {
      const wallet = walletOf(principal)
      const product = await productOr404(w, input.id)
      if (product.creator !== wallet) throw new WriteError(403, `only the creator of product ${input.id} (${product.creator}) may change it`)
      if (input.description === undefined && input.photo_url === undefined) throw new WriteError(400, 'send description and/or photo_url')
      const changes = {
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.photo_url !== undefined ? { photo_url: input.photo_url } : {}),
        updated_at: w.now(),
      }
      await w.db
        .insertInto('app.product_details')
        .values({ chain_id: w.chain.chainId, product: product.address, ...changes })
        .onConflict((oc) => oc.columns(['chain_id', 'product']).doUpdateSet(changes))
        .execute()
      return { data: { product: await productOr404(w, input.id) }, message: 'product updated' }
    },
  }),
  route({
    method: 'POST',
    path: '/v1/products/:id/enable',
    access: 'wallet',
    summary: "Enables a product for a project (org owner/admin, project admin/developer); it is used once the organization has it enabled on chain too",
    input: z.object({ id, project_id: id }),
    async handle({ w, input, principal }) {
      const wallet = walletOf(principal)
      const access = await requireProjectAccess(w, input.project_id, wallet, { org: ['owner', 'admin'], project: ['admin', 'developer'] })
      const product = await productOr404(w, input.id)
      await w.db
        .insertInto('app.project_products')
        .values({ project_id: access.project.id, product: product.address })
        .onConflict((oc) => oc.columns(['project_id', 'product']).doNothing())
        .execute()
      const onChain = await w.db
        .selectFrom('chain.product_enablements')
        .select('enabled')
        .where('chain_id', '=', w.chain.chainId)
        .where('organization', '=', access.org.address)
        .where('product', '=', product.address)
        .executeTakeFirst()
      const orgEnabled = onChain?.enabled === true
      return {
        data: { project_id: Number(access.project.id), product_id: input.id, product: product.address, enabled: true, enabled_by_organization: orgEnabled, effective: orgEnabled },
        message: orgEnabled
          ? `product ${input.id} is enabled for project ${input.project_id}`
          : `product ${input.id} is enabled for project ${input.project_id}; it takes effect once organization ${access.org.id} enables it on chain (HaitheOrganization.enableProduct(${product.address}), by the owner)`,
      }
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/products/:id/disable',
    access: 'wallet',
    summary: 'Disables a product for a project (org owner/admin, project admin/developer)',
    input: z.object({ id, project_id: id }),
    async handle({ w, input, principal }) {
      const wallet = walletOf(principal)
      const access = await requireProjectAccess(w, input.project_id, wallet, { org: ['owner', 'admin'], project: ['admin', 'developer'] })
      const product = await productOr404(w, input.id)
      const removed = await w.db
        .deleteFrom('app.project_products')
        .where('project_id', '=', access.project.id)
        .where('product', '=', product.address)
        .executeTakeFirst()
      const was = removed.numDeletedRows > 0n
      return {
        data: { project_id: Number(access.project.id), product_id: input.id, product: product.address, enabled: false, was_enabled: was },
        message: was ? `product ${input.id} is disabled for project ${input.project_id}` : `product ${input.id} was not enabled for project ${input.project_id}`,
      }
    },
  }),
]
