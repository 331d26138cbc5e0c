import { describe, expect, it } from 'vitest'
import {
  classifyRpcError,
  parseBlockLimit,
  parseRetryAfter,
  RpcRangeTooLargeError,
  RpcRequestError,
  type RpcFailure,
} from '../indexer/sync/rpc-errors.js'

interface Case {
  name: string
  input: RpcFailure
  suggestedRange?: { from: bigint; to: bigint }
  blockLimit?: number
}

const rangeTooLarge: Case[] = [
  {
    name: 'Alchemy log response size, with the suggested range',
    input: {
      rpcCode: -32602,
      message:
        'Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters, this block range should work: [0x10c8e00, 0x10c9b57]',
    },
    suggestedRange: { from: 0x10c8e00n, to: 0x10c9b57n },
    blockLimit: 2000,
  },
  {
    name: 'Alchemy free tier block range',
    input: {
      rpcCode: -32600,
      message:
        'Under the Free tier plan, you can make eth_getLogs requests with up to a 10 block range. Based on your parameters, this block range should work: [0x0, 0x9]. Upgrade to PAYG for expanded block range.',
    },
    suggestedRange: { from: 0n, to: 9n },
    blockLimit: 10,
  },
  {
    name: 'Infura, with its suggested range (upper-case hex)',
    input: { rpcCode: -32005, message: 'query returned more than 10000 results. Try with this block range [0x30B3E4, 0x30B5A5].' },
    suggestedRange: { from: 0x30b3e4n, to: 0x30b5a5n },
  },
  { name: 'geth', input: { rpcCode: -32000, message: 'query returned more than 10000 results' } },
  { name: 'QuickNode (10,000 range)', input: { rpcCode: -32614, message: 'eth_getLogs is limited to a 10,000 range' }, blockLimit: 10_000 },
  {
    name: 'QuickNode (blocks range)',
    input: { rpcCode: -32602, message: 'eth_getLogs and eth_newFilter are limited to a 10000 blocks range' },
    blockLimit: 10_000,
  },
  { name: 'Ankr', input: { rpcCode: -32600, message: 'block range is too wide' } },
  { name: 'Moonriver', input: { rpcCode: -32600, message: 'block range is too wide (maximum 1024)' }, blockLimit: 1024 },
  { name: 'BSC / op-geth style', input: { rpcCode: -32000, message: 'exceed maximum block range: 5000' }, blockLimit: 5000 },
  { name: 'PublicNode', input: { rpcCode: -32701, message: 'Please specify an address in your request or, to remove restrictions, order a dedicated full node here: https://www.allnodes.com/bnb/host (maximum block range: 50000)' }, blockLimit: 50_000 },
  { name: 'Blast', input: { rpcCode: -32602, message: 'ranges over 10000 blocks are not supported' }, blockLimit: 10_000 },
  { name: 'Chainstack', input: { rpcCode: -32000, message: 'Block range limit exceeded.' } },
  { name: 'Chainstack (with plan text)', input: { rpcCode: -32000, message: 'Block range limit exceeded. Upgrade your plan to use a wider range.' } },
  { name: 'max is 1k blocks', input: { rpcCode: -32000, message: 'eth_getLogs range is too large, max is 1k blocks' }, blockLimit: 1000 },
  {
    name: 'max results, with a decimal retry range',
    input: { rpcCode: -32602, message: 'query exceeds max results 20000, retry with the range 123-456' },
    suggestedRange: { from: 123n, to: 456n },
  },
  { name: 'Log response size exceeded (bare)', input: { message: 'Log response size exceeded' } },
  { name: 'response size exceeded', input: { rpcCode: -32008, message: 'response size exceeded' } },
  { name: 'too many logs', input: { rpcCode: -32000, message: 'too many logs in the response' } },
  { name: 'limit exceeded about logs', input: { rpcCode: -32005, message: 'limit exceeded: logs' } },
  { name: 'limit exceeded about blocks', input: { rpcCode: -32000, message: 'block range limit exceeded for eth_getLogs' } },
  { name: '-32005 with range words', input: { rpcCode: -32005, message: 'requested range has too many results' } },
  { name: 'Arbitrum', input: { rpcCode: -32000, message: 'logs matched by query exceeds limit of 10000' } },
  { name: 'Avalanche', input: { rpcCode: -32000, message: 'requested too many blocks from 0 to 5000, maximum is set to 2048' }, blockLimit: 2048 },
  { name: 'Optimism (backend response too large)', input: { httpStatus: 503, message: 'backend response too large' } },
  { name: 'Base', input: { rpcCode: -32000, message: 'block range too large' } },
  { name: 'Cloudflare', input: { rpcCode: -32047, message: 'Max range: 3500' }, blockLimit: 3500 },
  { name: 'thirdweb', input: { rpcCode: -32602, message: 'Maximum allowed number of requested blocks is 5000' }, blockLimit: 5000 },
  { name: 'Coinbase', input: { rpcCode: -32000, message: 'please limit the query to at most 1000 blocks' }, blockLimit: 1000 },
  { name: 'HTTP 413', input: { httpStatus: 413, message: 'Request Entity Too Large' } },
  { name: 'our byte cap', input: { httpStatus: 200, message: 'response too large: more than the 33554432-byte cap' } },
]

const retryable: (Omit<Case, 'suggestedRange' | 'blockLimit'> & { retryAfterMs?: number })[] = [
  { name: 'our timeout', input: { message: 'no response within 15000 ms', timedOut: true } },
  { name: 'ECONNRESET', input: { message: 'fetch failed: ECONNRESET read ECONNRESET', networkError: true } },
  { name: 'ECONNREFUSED (message only)', input: { message: 'connect ECONNREFUSED 127.0.0.1:8545' } },
  { name: 'socket hang up', input: { message: 'socket hang up' } },
  { name: 'fetch failed', input: { message: 'fetch failed' } },
  { name: 'HTTP 429, Retry-After seconds', input: { httpStatus: 429, message: 'Too Many Requests', retryAfterHeader: '2' }, retryAfterMs: 2000 },
  { name: 'HTTP 429, Retry-After 0', input: { httpStatus: 429, message: 'Too Many Requests', retryAfterHeader: '0' }, retryAfterMs: 0 },
  { name: 'HTTP 429 without Retry-After', input: { httpStatus: 429, rpcCode: 429, message: 'Your app has exceeded its compute units per second capacity.' } },
  { name: 'HTTP 408', input: { httpStatus: 408, message: 'Request Timeout' } },
  { name: 'HTTP 500', input: { httpStatus: 500, message: 'Internal Server Error' } },
  { name: 'HTTP 502', input: { httpStatus: 502, message: 'Bad Gateway' } },
  { name: 'HTTP 503 with Retry-After', input: { httpStatus: 503, message: 'Service Unavailable', retryAfterHeader: '1' }, retryAfterMs: 1000 },
  { name: 'HTTP 504', input: { httpStatus: 504, message: 'Gateway Timeout' } },
  { name: '-32603 internal error', input: { rpcCode: -32603, message: 'internal error' } },
  { name: 'header not found (lagging node)', input: { rpcCode: -32000, message: 'header not found' } },
  { name: 'unknown block (lagging node)', input: { rpcCode: -32000, message: 'unknown block' } },
  { name: 'rate limit message', input: { rpcCode: -32000, message: 'rate limit exceeded, please slow down' } },
  { name: 'too many requests message', input: { rpcCode: -32000, message: 'Too Many Requests' } },
  { name: 'Alchemy capacity (HTTP 200)', input: { rpcCode: 429, message: 'Your app has exceeded its compute units per second capacity.' } },
  { name: 'Infura rate limit (-32005, no range words)', input: { rpcCode: -32005, message: 'daily request count exceeded, request rate limited' } },
  { name: '-32005 limit exceeded (no range words)', input: { rpcCode: -32005, message: 'limit exceeded' } },
]

const fatal: Omit<Case, 'suggestedRange' | 'blockLimit'>[] = [
  { name: '-32602 invalid params', input: { rpcCode: -32602, message: 'invalid argument 0: hex string without 0x prefix' } },
  { name: '-32601 method not found', input: { rpcCode: -32601, message: 'Method not found' } },
  { name: '-32601 on HTTP 500', input: { httpStatus: 500, rpcCode: -32601, message: 'the method no_such_method does not exist/is not available' } },
  { name: 'execution reverted', input: { rpcCode: 3, message: 'execution reverted: Ownable: caller is not the owner' } },
  { name: 'execution reverted (-32000)', input: { rpcCode: -32000, message: 'execution reverted' } },
  { name: 'HTTP 400', input: { httpStatus: 400, message: 'Bad Request' } },
  { name: 'HTTP 401', input: { httpStatus: 401, message: 'Unauthorized' } },
  { name: 'HTTP 403', input: { httpStatus: 403, message: 'Forbidden' } },
  { name: 'HTTP 404', input: { httpStatus: 404, message: 'Not Found' } },
  { name: 'unrecognised message', input: { rpcCode: -32000, message: 'nonce too low' } },
]

describe('classifyRpcError', () => {
  it.each(rangeTooLarge)('range-too-large: $name', ({ input, suggestedRange, blockLimit }) => {
    const result = classifyRpcError(input)
    expect(result.kind).toBe('range-too-large')
    expect(result.suggestedRange).toEqual(suggestedRange)
    if (blockLimit !== undefined) expect(result.blockLimit).toBe(blockLimit)
    expect(result.retryAfterMs).toBeUndefined()
  })

  it.each(retryable)('retryable: $name', ({ input, retryAfterMs }) => {
    const result = classifyRpcError(input)
    expect(result.kind).toBe('retryable')
    expect(result.retryAfterMs).toBe(retryAfterMs)
    expect(result.suggestedRange).toBeUndefined()
  })

  it.each(fatal)('fatal: $name', ({ input }) => {
    expect(classifyRpcError(input).kind).toBe('fatal')
  })

  it('honours Retry-After as an HTTP date', () => {
    const at = new Date(Date.now() + 5_000).toUTCString()
    const result = classifyRpcError({ httpStatus: 429, message: 'Too Many Requests', retryAfterHeader: at })
    expect(result.kind).toBe('retryable')
    // toUTCString drops the milliseconds: between 4 and 5 seconds from now.
    expect(result.retryAfterMs).toBeGreaterThan(3_900)
    expect(result.retryAfterMs).toBeLessThanOrEqual(5_000)
  })
})

describe('parseRetryAfter', () => {
  it('reads seconds, dates in the past and ignores garbage', () => {
    expect(parseRetryAfter('1.5')).toBe(1500)
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT')).toBe(0)
    expect(parseRetryAfter('soon')).toBeUndefined()
    expect(parseRetryAfter('')).toBeUndefined()
    expect(parseRetryAfter(null)).toBeUndefined()
  })
})

describe('parseBlockLimit', () => {
  it('reads thousands separators and k suffixes', () => {
    expect(parseBlockLimit('eth_getLogs is limited to a 10,000 range')).toBe(10_000)
    expect(parseBlockLimit('range is too large, max is 1k blocks')).toBe(1000)
    expect(parseBlockLimit('block range is too wide')).toBeUndefined()
  })
})

describe('RPC error classes', () => {
  it('say what to do', () => {
    const range = new RpcRangeTooLargeError({ method: 'eth_getLogs', detail: 'Log response size exceeded', suggestedRange: { from: 1n, to: 2n } })
    expect(range).toBeInstanceOf(Error)
    expect(range.name).toBe('RpcRangeTooLargeError')
    expect(range.message).toMatch(/eth_getLogs.*suggested range \[1, 2\]/)
    expect(new RpcRangeTooLargeError({ method: 'eth_getLogs', detail: 'x' }).message).toMatch(/smaller block range/)

    const fatal = new RpcRequestError({ method: 'no_such_method', retryable: false, detail: 'Method not found', rpcCode: -32601 })
    expect(fatal.name).toBe('RpcRequestError')
    expect(fatal).toMatchObject({ method: 'no_such_method', retryable: false, rpcCode: -32601 })
    expect(fatal.message).toMatch(/code -32601.*check the method name and parameters/)

    const gaveUp = new RpcRequestError({ method: 'eth_blockNumber', retryable: true, detail: 'HTTP 503', httpStatus: 503, attempts: 5 })
    expect(gaveUp.message).toMatch(/gave up after 5 attempts.*maxAttempts/)
    expect(gaveUp.httpStatus).toBe(503)
  })
})
