/**
 * The tUSDT faucet of test chains: a transfer of `gateway.faucetAmount` from the server's
 * account, at most once an hour per wallet. The limit is one conditional upsert of
 * app.faucet_grants in the same database transaction as the outbox entry, so two concurrent
 * requests cannot both pass (the second waits on the row, then finds it granted) and a grant
 * never exists without its transfer, nor a transfer without its grant.
 */
import { encodeFunctionData, formatUnits, type Address } from 'viem'
import { testUSDTAbi } from '../../chain/index.js'
import type { WriteContext } from '../context.js'
import { WriteError } from '../http/errors.js'
import { route, walletOf } from '../http/route.js'
import type { OutboxEntry } from '../signer/outbox.js'
import { pollUntil } from '../chain-reads.js'
import { transactionView } from './views.js'

const INTERVAL_MS = 60 * 60 * 1000
const TUSDT_DECIMALS = 18

function requireTestnet(w: WriteContext): void {
  if (!w.chain.testnet) throw new WriteError(403, `the tUSDT faucet runs only on test chains; ${w.chain.name} is not one`, 'faucet_unavailable')
}

async function lastGrant(w: WriteContext, wallet: Address) {
  return w.db.selectFrom('app.faucet_grants').select(['last_granted_at', 'outbox_id']).where('address', '=', wallet).executeTakeFirst()
}

class AlreadyGranted extends Error {}

export const faucetRoutes = [
  route({
    method: 'GET',
    path: '/v1/me/faucet',
    access: 'wallet',
    summary: "The caller's last faucet grant and when the next is allowed",
    async handle({ w, principal }) {
      const wallet = walletOf(principal)
      const grant = await lastGrant(w, wallet)
      const last = grant && grant.last_granted_at.getTime() > 0 ? grant.last_granted_at : null
      const next = last ? new Date(Math.max(last.getTime() + INTERVAL_MS, w.now().getTime())) : w.now()
      const entry = grant?.outbox_id != null ? await w.outbox.get(String(grant.outbox_id)) : undefined
      return {
        data: {
          // v1's shape
          last_request: { id: last && grant?.outbox_id != null ? Number(grant.outbox_id) : 0, requested_at: last ? last.toISOString() : '' },
          available: w.chain.testnet,
          last_granted_at: last ? last.toISOString() : null,
          next_allowed_at: next.toISOString(),
          amount: formatUnits(BigInt(w.config.gateway.faucetAmount), TUSDT_DECIMALS),
          amount_base_units: w.config.gateway.faucetAmount,
          transaction: last && entry ? transactionView(entry) : null,
        },
        message: last ? 'last faucet request found' : 'no faucet requests found',
      }
    },
  }),
  route({
    method: 'POST',
    path: '/v1/me/faucet',
    access: 'wallet',
    summary: 'Sends the caller tUSDT from the server (test chains only; once an hour per wallet)',
    async handle({ w, principal }) {
      requireTestnet(w)
      const wallet = walletOf(principal)
      const amount = BigInt(w.config.gateway.faucetAmount)
      const now = w.now()
      let entry: OutboxEntry
      try {
        entry = await w.db.transaction().execute(async (trx) => {
          const granted = await trx
            .insertInto('app.faucet_grants')
            .values({ address: wallet, last_granted_at: now })
            .onConflict((oc) =>
              oc.column('address').doUpdateSet({ last_granted_at: now, outbox_id: null }).where('app.faucet_grants.last_granted_at', '<=', new Date(now.getTime() - INTERVAL_MS)))
            .returning('address')
            .executeTakeFirst()
          if (!granted) throw new AlreadyGranted()
          const queued = await w.outbox.enqueue({
            idempotencyKey: `faucet:${w.chain.chainId}:${wallet}:${now.getTime()}`,
            kind: 'faucet',
            to: w.chain.contracts.tusdt,
            data: encodeFunctionData({ abi: testUSDTAbi, functionName: 'transfer', args: [wallet, amount] }),
            requestedBy: wallet,
          }, trx)
          await trx.updateTable('app.faucet_grants').set({ outbox_id: queued.id }).where('address', '=', wallet).execute()
          return queued
        })
      } catch (err) {
        if (!(err instanceof AlreadyGranted)) throw err
        const grant = await lastGrant(w, wallet)
        const next = new Date((grant?.last_granted_at.getTime() ?? now.getTime()) + INTERVAL_MS)
        const seconds = Math.max(1, Math.ceil((next.getTime() - now.getTime()) / 1000))
        throw new WriteError(429, `the faucet sends once an hour per wallet; ${wallet} may ask again at ${next.toISOString()} (in ${Math.ceil(seconds / 60)} min)`, 'faucet_rate_limited', { 'Retry-After': String(seconds) })
      }

      // Wait (bounded) for the transfer, as v1 answered with its hash.
      const outboxId = entry.id
      await pollUntil(async () => {
        const current = await w.outbox.get(outboxId)
        return current && (current.status === 'confirmed' || current.status === 'failed' || (current.status === 'mined' && current.txHash)) ? current : undefined
      }, w.config.gateway.indexWaitMs)
      entry = (await w.outbox.get(outboxId)) ?? entry
      if (entry.status === 'failed') {
        // Give the hour back: the wallet received nothing.
        await w.db.updateTable('app.faucet_grants').set({ last_granted_at: new Date(0) }).where('address', '=', wallet).where('outbox_id', '=', outboxId).execute()
        throw new WriteError(502, `the faucet transfer failed (${entry.error ?? 'no reason recorded'}); try again`, 'transaction_failed')
      }
      const transaction = transactionView(entry)
      const done = entry.status === 'mined' || entry.status === 'confirmed'
      return {
        status: done ? 200 : 202,
        data: {
          amount: formatUnits(amount, TUSDT_DECIMALS),
          amount_base_units: amount.toString(),
          token: 'tUSDT',
          transaction_hash: entry.txHash,
          recipient: wallet,
          next_allowed_at: new Date(now.getTime() + INTERVAL_MS).toISOString(),
          transaction,
        },
        message: done ? 'faucet tokens sent' : `faucet transfer queued (transaction ${transaction.id}); follow it at GET ${transaction.poll}`,
      }
    },
  }),
]
