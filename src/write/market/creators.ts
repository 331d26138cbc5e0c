/**
 * Creators: lists from the index, and registration. `registerAsCreator` is server-only on chain,
 * so POST /v1/creator sends it through the outbox for the signed-in wallet, once: the outbox
 * key is derived from the wallet, so a double submit (or a retry while it is in flight) finds
 * the same transaction. A registration that failed on chain may be sent again (a new key).
 */
import { decodeFunctionData, encodeFunctionData, type Address, type Hex } from 'viem'
import { z } from 'zod'
import { haitheCreatorIdentityAbi, haitheOrchestratorAbi } from '../../chain/index.js'
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'
import { address } from '../http/inputs.js'
import { route, walletOf } from '../http/route.js'
import type { OutboxEntry } from '../signer/outbox.js'
import { pollUntil, readChain } from '../chain-reads.js'
import { findCreator, listCreators, listProducts, page } from './queries.js'
import { transactionView, type CreatorView } from './views.js'

const bytes32 = z
  .string()
  .trim()
  .regex(/^0x[0-9a-fA-F]{64}$/, 'must be 0x followed by 64 hex digits')
  .transform((s) => s.toLowerCase() as Hex)

const registration = z.object({
  uri: z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(2048, 'must be at most 2048 characters'),
  pub_key: z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters'),
  /** v1's SDK sends the seed it signed (determineNextSeed of the wallet); without it the server reads it. */
  pvt_key_seed: bytes32.optional(),
})

async function withPubKey(w: WriteContext, creator: CreatorView): Promise<CreatorView> {
  try {
    const pubKey = await w.publicClient.readContract({
      address: w.chain.contracts.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'pubKeys', args: [BigInt(creator.token_id)],
    })
    return { ...creator, pub_key: pubKey }
  } catch {
    // The index answered; the public key is a detail the node may fail to give.
    return { ...creator, pub_key: null }
  }
}

async function creatorTokenOnChain(w: WriteContext, wallet: Address): Promise<bigint> {
  return readChain('the creator registry', () =>
    w.publicClient.readContract({ address: w.chain.contracts.orchestrator, abi: haitheOrchestratorAbi, functionName: 'creators', args: [wallet] }))
}

/** What a registration transaction carries (decoded from the outbox, so a repeat answers what was really sent). */
async function sentRegistration(w: WriteContext, id: string): Promise<{ uri: string; pubKey: string; seed: Hex }> {
  const row = await w.db.selectFrom('app.tx_outbox').select('data').where('id', '=', id).executeTakeFirstOrThrow()
  const { args } = decodeFunctionData({ abi: haitheOrchestratorAbi, data: row.data as Hex })
  const [, uri, seed, pubKey] = args as readonly [Address, string, Hex, string]
  return { uri, pubKey, seed }
}

export const creatorRoutes = [
  route({
    method: 'GET',
    path: '/v1/creator',
    access: 'public',
    summary: 'Creators, newest first (from the index)',
    input: z.object(page),
    async handle({ w, input }) {
      const { items, nextOffset } = await listCreators(w, input.limit, input.offset)
      return { data: { creators: items, next_offset: nextOffset }, message: `${items.length} creator(s)` }
    },
  }),
  route({
    method: 'GET',
    path: '/v1/creator/:address',
    access: 'public',
    summary: 'One creator, with the public key of its identity',
    input: z.object({ address }),
    async handle({ w, input }) {
      const creator = await findCreator(w, input.address)
      if (!creator) throw new WriteError(404, `${input.address} is not a creator (or its registration is not indexed yet)`)
      return { data: { creator: await withPubKey(w, creator) }, message: 'creator found' }
    },
  }),
  route({
    method: 'GET',
    path: '/v1/creator/:address/products',
    access: 'public',
    summary: "A creator's products, newest first",
    input: z.object({ address, ...page }),
    async handle({ w, input }) {
      const { items, nextOffset } = await listProducts(w, { creator: input.address }, input.limit, input.offset)
      return { data: { products: items, next_offset: nextOffset }, message: `${items.length} product(s)` }
    },
  }),
  route({
    method: 'POST',
    path: '/v1/creator',
    access: 'wallet',
    summary: 'Registers the signed-in wallet as a creator (the server sends registerAsCreator through the outbox)',
    input: registration,
    async handle({ w, input, principal }) {
      const wallet = walletOf(principal)
      const known = await findCreator(w, wallet)
      if (known) throw new WriteError(409, `${wallet} is already a creator (identity token ${known.token_id})`, 'already_a_creator')

      const key = `register-creator:${w.chain.chainId}:${wallet}`
      const previous = await w.db
        .selectFrom('app.tx_outbox')
        .select(['id', 'status'])
        .where((eb) => eb.or([eb('idempotency_key', '=', key), eb('idempotency_key', 'like', `${key}:%`)]))
        .orderBy('id', 'desc')
        .executeTakeFirst()
      let entry: OutboxEntry | undefined
      let repeat = false
      if (previous && previous.status !== 'failed') {
        entry = await w.outbox.get(previous.id)
        repeat = true
      }
      if (!entry) {
        const token = await creatorTokenOnChain(w, wallet)
        if (token !== 0n) throw new WriteError(409, `${wallet} is already a creator on chain (identity token ${token}); the index will show it shortly`, 'already_a_creator')
        const seed = input.pvt_key_seed ?? (await readChain('the next identity seed', () =>
          w.publicClient.readContract({ address: w.chain.contracts.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'determineNextSeed', args: [wallet] })))
        entry = await w.outbox.enqueue({
          // A failed registration may be retried: the next attempt gets a key of its own.
          idempotencyKey: previous ? `${key}:${previous.id}` : key,
          kind: 'register-creator',
          to: w.chain.contracts.orchestrator,
          data: encodeFunctionData({ abi: haitheOrchestratorAbi, functionName: 'registerAsCreator', args: [wallet, input.uri, seed, input.pub_key] }),
          requestedBy: wallet,
        })
      }
      const outboxId = entry.id

      // Wait (bounded) for the index to show the creator; stop early if the transaction failed.
      const creator = await pollUntil<CreatorView | null>(async () => {
        const found = await findCreator(w, wallet)
        if (found) return found
        return (await w.outbox.get(outboxId))?.status === 'failed' ? null : undefined
      }, w.config.gateway.indexWaitMs)
      entry = (await w.outbox.get(outboxId)) ?? entry
      if (!creator && entry.status === 'failed') {
        if ((await creatorTokenOnChain(w, wallet)) !== 0n) throw new WriteError(409, `${wallet} is already a creator on chain`, 'already_a_creator')
        throw new WriteError(502, `the registration transaction failed (${entry.error ?? 'no reason recorded'}); send the request again to retry`, 'transaction_failed')
      }

      const sent = await sentRegistration(w, outboxId)
      const transaction = transactionView(entry)
      const data = {
        wallet_address: wallet, uri: sent.uri, pub_key: sent.pubKey, pvt_key_seed: sent.seed,
        status: creator ? 'registered' : 'pending', creator: creator ? await withPubKey(w, creator) : null, transaction,
      }
      if (creator) return { status: 200, data, message: 'registered as a creator' }
      return {
        status: 202,
        data,
        message: `${repeat ? 'a registration for this wallet is already on its way' : 'registration sent'} (transaction ${transaction.id}); follow it at GET ${transaction.poll}, the creator appears at GET /api/v1/creator/${wallet} once indexed`,
      }
    },
  }),
]
