/**
 * POST /orgs: the organization a wallet created on chain, once the index has it. The chain is
 * the truth: the gateway never records an organization itself, it waits (bounded) for the
 * indexer to reach the block that created it, and says "pending" if it has not.
 */
import { parseEventLogs, type Address, type Hash } from 'viem'
import { haitheOrchestratorAbi } from '../../chain/index.js'
import type { WriteContext } from '../context.js'
import { awaitReceipt, indexedBlock, pollUntil, readChain } from '../chain-reads.js'
import { badRequest, forbidden, notFound } from '../http/errors.js'
import { organizationByAddress, organizationByName, newestOwnedOrganization } from './queries.js'
import type { OrganizationRow } from './views.js'

export type CreatedOrganization =
  | { kind: 'indexed'; row: OrganizationRow }
  /** Mined (or still in the mempool: block_number null) but not indexed yet. */
  | { kind: 'pending'; tx_hash: Hash | null; block_number: number | null }

async function byTransaction(w: WriteContext, caller: Address, hash: Hash, name: string | undefined, deadline: number): Promise<CreatedOrganization> {
  const receipt = await awaitReceipt(w, hash, deadline - Date.now())
  if (receipt === 'unknown') throw badRequest(`tx_hash: the chain knows no transaction ${hash}`)
  if (receipt === 'pending') return { kind: 'pending', tx_hash: hash, block_number: null }
  if (receipt.status !== 'success') throw badRequest(`tx_hash: transaction ${hash} reverted; it created no organization`)
  const orchestrator = w.chain.contracts.orchestrator.toLowerCase()
  const created = parseEventLogs({
    abi: haitheOrchestratorAbi,
    eventName: 'OrganizationCreated',
    logs: receipt.logs.filter((log) => log.address.toLowerCase() === orchestrator),
  })
  if (created.length === 0) throw badRequest(`tx_hash: transaction ${hash} is not a createOrganization call of the orchestrator ${orchestrator}`)
  const named = name === undefined ? created : created.filter((e) => e.args.name === name)
  if (named.length === 0) {
    throw badRequest(`name: transaction ${hash} created ${created.map((e) => JSON.stringify(e.args.name)).join(', ')}, not ${JSON.stringify(name)}`)
  }
  const event = named.find((e) => e.args.owner.toLowerCase() === caller) ?? named[0]!
  const address = event.args.organization.toLowerCase()
  if (event.args.owner.toLowerCase() !== caller) {
    // Ownership may have moved to the caller since; the index knows the current owner.
    const row = await organizationByAddress(w, address)
    if (row?.owner === caller) return { kind: 'indexed', row }
    throw forbidden(`organization ${address} was created by ${event.args.owner.toLowerCase()}, not by you`)
  }
  const row = await pollUntil(() => organizationByAddress(w, address), deadline - Date.now())
  if (!row) return { kind: 'pending', tx_hash: hash, block_number: Number(receipt.blockNumber) }
  if (row.owner !== caller) throw forbidden(`organization ${address} is now owned by ${row.owner}, not by you`)
  return { kind: 'indexed', row }
}

/**
 * Waits until `find` answers or the index has applied every block up to the chain's head as it
 * was when the request came (any organization the caller created before asking is in it).
 */
async function untilIndexedToHead(
  w: WriteContext, deadline: number, find: () => Promise<OrganizationRow | undefined>,
): Promise<{ row: OrganizationRow | undefined; complete: boolean; head: bigint }> {
  const head = await readChain('the head block', () => w.publicClient.getBlockNumber({ cacheTime: 0 }))
  const answer = await pollUntil(async () => {
    const row = await find()
    if (row) return { row, complete: true }
    return BigInt((await indexedBlock(w)) ?? -1) >= head ? { row: undefined, complete: true } : undefined
  }, deadline - Date.now())
  return { row: answer?.row, complete: answer?.complete ?? false, head }
}

/**
 * The organization POST /orgs answers with: the one `tx_hash` created, the one named `name`, or
 * (neither given) the caller's newest. Each must be owned by the caller.
 */
export async function findCreatedOrganization(w: WriteContext, caller: Address, input: { tx_hash?: Hash | undefined; name?: string | undefined }): Promise<CreatedOrganization> {
  const deadline = Date.now() + w.config.gateway.indexWaitMs
  if (input.tx_hash) return byTransaction(w, caller, input.tx_hash, input.name, deadline)

  if (input.name !== undefined) {
    const name = input.name
    const found = await untilIndexedToHead(w, deadline, () => organizationByName(w, name))
    if (!found.row) {
      if (!found.complete) return { kind: 'pending', tx_hash: null, block_number: Number(found.head) }
      throw notFound(`no organization named ${JSON.stringify(name)} exists on chain; call createOrganization on the orchestrator first`)
    }
    if (found.row.owner !== caller) throw forbidden(`organization ${JSON.stringify(name)} is owned by ${found.row.owner}, not by you`)
    return { kind: 'indexed', row: found.row }
  }

  // No parameters (v1's client): whatever the caller created up to now must be indexed first.
  const found = await untilIndexedToHead(w, deadline, async () => undefined)
  if (!found.complete) return { kind: 'pending', tx_hash: null, block_number: Number(found.head) }
  const row = await newestOwnedOrganization(w, caller)
  if (!row) throw notFound('you own no organization on chain; call createOrganization on the orchestrator first (then POST /orgs?tx_hash=<its hash>)')
  return { kind: 'indexed', row }
}
