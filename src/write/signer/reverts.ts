/** Telling a revert from other failures, and naming its reason with the contracts' errors. */
import { BaseError, decodeErrorResult, ExecutionRevertedError, isHex, type Abi, type Hex } from 'viem'
import { haitheCreatorIdentityAbi, haitheOrchestratorAbi, haitheOrganizationAbi, haitheProductAbi, testUSDTAbi } from '../../chain/index.js'

/** The custom errors of every Haithe contract (a revert can bubble up from another contract). */
const knownErrors = [...testUSDTAbi, ...haitheOrchestratorAbi, ...haitheOrganizationAbi, ...haitheProductAbi, ...haitheCreatorIdentityAbi].filter(
  (item) => item.type === 'error',
)

/** The revert data a node returned with an error (as viem's call action finds it). */
export function revertDataOf(err: unknown): Hex | undefined {
  if (!(err instanceof BaseError)) return undefined
  const deepest = err.walk() as { data?: unknown }
  const data = typeof deepest?.data === 'object' && deepest.data !== null ? (deepest.data as { data?: unknown }).data : deepest?.data
  return typeof data === 'string' && isHex(data) ? data : undefined
}

/**
 * Whether `err` says the transaction reverts (a final answer), rather than that the node could
 * not answer. "gas required exceeds allowance" is not one: geth says it when the account cannot
 * pay for gas, which funding fixes.
 */
export function isRevert(err: unknown): boolean {
  if (!(err instanceof BaseError)) return false
  if (revertDataOf(err)) return true
  const reverted = err.walk((e) => e instanceof ExecutionRevertedError)
  return reverted !== null && !/exceeds allowance/i.test(describe(reverted))
}

const describe = (e: unknown) => (e instanceof BaseError ? `${e.shortMessage} ${e.details ?? ''}` : String(e))

const formatArg = (arg: unknown): string => (typeof arg === 'bigint' ? arg.toString() : Array.isArray(arg) ? `[${arg.map(formatArg).join(', ')}]` : String(arg))

/** The reason of a revert: the contract error with its arguments, a require message, or what the node said. */
export function revertReason(err: unknown): string {
  const data = revertDataOf(err)
  if (data && data !== '0x') {
    try {
      const decoded = decodeErrorResult({ abi: knownErrors as Abi, data })
      if (decoded.errorName === 'Error') return String(decoded.args?.[0] ?? '')
      return `${decoded.errorName}(${(decoded.args ?? []).map(formatArg).join(', ')})`
    } catch {
      return `unknown error ${data.slice(0, 10)}`
    }
  }
  if (err instanceof BaseError) {
    const reverted = err.walk((e) => e instanceof ExecutionRevertedError) as BaseError | null
    const said = (reverted?.details || reverted?.shortMessage || err.shortMessage).replace(/\s+/g, ' ').trim()
    return said.slice(0, 300) || 'reverted without a reason'
  }
  return 'reverted without a reason'
}
