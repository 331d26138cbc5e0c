import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createRpcClient, maskUrl, rpcRequestsMetricName, type RpcClientOptions } from '../indexer/sync/rpc.js'
import { RpcRangeTooLargeError, RpcRequestError } from '../indexer/sync/rpc-errors.js'
import { startDevChain, type DevChain } from './support/devchain.js'
import { startFaultyRpcProxy, type FaultyRpcProxy } from './support/rpc-proxy.js'

let dev: DevChain
let proxy: FaultyRpcProxy
let head: bigint

/** A plain call to anvil, bypassing the proxy and the client under test. */
async function direct<T>(method: string, params: unknown[]): Promise<T> {
  const response = await fetch(dev.anvil.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  const body = (await response.json()) as { result: T }
  return body.result
}

async function counts(registry: Registry): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(rpcRequestsMetricName)
  const out: Record<string, number> = {}
  for (const { labels, value } of (await metric!.get()).values) out[`${labels.method}/${labels.outcome}`] = value
  return out
}

/** Fast backoff for tests. */
const quick: Partial<RpcClientOptions> = { timeoutMs: 300, baseDelayMs: 5, maxDelayMs: 100 }

function captureLogs() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = []
  const raw: string[] = []
  const logger = pino(
    { level: 'debug' },
    {
      write(line: string) {
        raw.push(line)
        lines.push(JSON.parse(line) as { level: number; msg: string })
      },
    },
  )
  return { logger, lines, raw }
}

beforeAll(async () => {
  dev = await startDevChain()
  proxy = await startFaultyRpcProxy({ target: dev.anvil.rpcUrl, seed: 7 })
  await dev.testClient.mine({ blocks: 10 })
  head = BigInt(await direct<string>('eth_blockNumber', []))
})

afterAll(async () => {
  await proxy?.stop()
  await dev?.stop()
})

beforeEach(() => proxy.setFaults({}))

describe('RPC client through a faulty proxy', () => {
  it('returns correct answers to single and batch calls despite 429s, 5xx, slow replies and timeouts', async () => {
    expect(head).toBeGreaterThanOrEqual(10n)
    const registry = new Registry()
    const client = createRpcClient({ url: proxy.url, metrics: registry, ...quick })
    const blockNumbers = Array.from({ length: Number(head) + 1 }, (_, i) => `0x${i.toString(16)}`)
    const expectedBlocks = await Promise.all(blockNumbers.map((n) => direct<{ hash: string }>('eth_getBlockByNumber', [n, false])))
    const expectedHead = await direct<string>('eth_blockNumber', [])

    proxy.setFaults({ timeoutRate: 0.3, hangMs: 1_000, rate429: 0.3, rate5xx: 0.3, slowRate: 0.3, slowMs: 50 })
    const singles = Promise.all(Array.from({ length: 50 }, () => client.request<string>('eth_blockNumber', [])))
    const batches = Promise.all(
      Array.from({ length: 20 }, (_, b) => {
        const picked = Array.from({ length: 5 }, (_, i) => (b + i * 3) % blockNumbers.length)
        return client
          .batch<{ hash: string; number: string }>(picked.map((i) => ({ method: 'eth_getBlockByNumber', params: [blockNumbers[i], false] })))
          .then((blocks) => ({ picked, blocks }))
      }),
    )
    const [heads, batchResults] = await Promise.all([singles, batches])
    proxy.setFaults({})

    expect(heads).toEqual(Array(50).fill(expectedHead))
    for (const { picked, blocks } of batchResults) {
      expect(blocks.map((b) => b.hash)).toEqual(picked.map((i) => expectedBlocks[i]!.hash))
      expect(blocks.map((b) => b.number)).toEqual(picked.map((i) => blockNumbers[i]))
    }
    for (const kind of ['timeout', '429', '5xx', 'slow']) expect(proxy.stats.injected[kind]).toBeGreaterThan(0)

    const metric = await counts(registry)
    expect(metric['eth_blockNumber/ok']).toBe(50)
    expect(metric['eth_getBlockByNumber/ok']).toBe(100) // a batch counts each call
    expect(metric['eth_blockNumber/retry']).toBeGreaterThan(0)
    expect(metric['eth_getBlockByNumber/retry']).toBeGreaterThan(0)
    expect(metric['eth_blockNumber/error'] ?? 0).toBe(0)
    expect(client.health().healthy).toBe(true)
  })

  it('throws RpcRangeTooLargeError at once, with the suggested range, for an Alchemy-style range limit', async () => {
    const registry = new Registry()
    const client = createRpcClient({ url: proxy.url, metrics: registry, ...quick })
    proxy.setFaults({ rangeLimit: { maxBlocks: 2, style: 'alchemy' } })
    const before = proxy.stats.requests

    const error = await client.request('eth_getLogs', [{ fromBlock: '0x1', toBlock: `0x${head.toString(16)}` }]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RpcRangeTooLargeError)
    expect((error as RpcRangeTooLargeError).suggestedRange).toEqual({ from: 1n, to: 2n })
    expect((error as RpcRangeTooLargeError).blockLimit).toBe(2)
    expect((error as Error).message).toMatch(/suggested range \[1, 2\]/)
    expect(proxy.stats.requests - before).toBe(1)

    const metric = await counts(registry)
    expect(metric['eth_getLogs/range_too_large']).toBe(1)
    expect(metric['eth_getLogs/retry'] ?? 0).toBe(0)

    // Within the limit the same client gets the logs.
    const logs = await client.request<unknown[]>('eth_getLogs', [{ fromBlock: '0x1', toBlock: '0x2' }])
    expect(logs).toEqual(await direct('eth_getLogs', [{ fromBlock: '0x1', toBlock: '0x2' }]))
  })

  it('recognises the Infura (too many logs) and QuickNode (block limit) styles, also inside a batch', async () => {
    const allLogs = await direct<{ blockNumber: string }[]>('eth_getLogs', [{ fromBlock: '0x0', toBlock: 'latest' }])
    expect(allLogs.length).toBeGreaterThan(2)
    const client = createRpcClient({ url: proxy.url, ...quick })

    proxy.setFaults({ rangeLimit: { maxLogs: 1, style: 'infura' } })
    const infura = await client.request('eth_getLogs', [{ fromBlock: '0x0', toBlock: 'latest' }]).catch((e: unknown) => e)
    expect(infura).toBeInstanceOf(RpcRangeTooLargeError)
    const suggested = (infura as RpcRangeTooLargeError).suggestedRange
    expect(suggested?.from).toBe(0n)
    expect(suggested!.to).toBeLessThan(BigInt(allLogs[1]!.blockNumber) + 1n)

    proxy.setFaults({ rangeLimit: { maxBlocks: 3, style: 'quicknode' } })
    const quicknode = await client
      .batch([
        { method: 'eth_blockNumber', params: [] },
        { method: 'eth_getLogs', params: [{ fromBlock: '0x0', toBlock: '0x9' }] },
      ])
      .catch((e: unknown) => e)
    expect(quicknode).toBeInstanceOf(RpcRangeTooLargeError)
    expect((quicknode as RpcRangeTooLargeError).blockLimit).toBe(3)
  })

  it('throws RpcRequestError at once for a fatal error (method not found)', async () => {
    const registry = new Registry()
    const client = createRpcClient({ url: proxy.url, metrics: registry, ...quick })
    const before = proxy.stats.requests

    const error = await client.request('no_such_method', []).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RpcRequestError)
    expect(error).toMatchObject({ method: 'no_such_method', retryable: false, rpcCode: -32601 })
    expect((error as Error).message).toMatch(/Method not found.*check the method name/)
    expect(proxy.stats.requests - before).toBe(1)

    // One fatal item fails the whole batch, at once.
    const batchError = await client
      .batch([
        { method: 'eth_blockNumber', params: [] },
        { method: 'no_such_method', params: [] },
      ])
      .catch((e: unknown) => e)
    expect(batchError).toBeInstanceOf(RpcRequestError)
    expect(proxy.stats.requests - before).toBe(2)

    const metric = await counts(registry)
    expect(metric['no_such_method/error']).toBe(2)
    expect(metric['no_such_method/retry'] ?? 0).toBe(0)
    // The endpoint answered: still healthy.
    expect(client.health().healthy).toBe(true)
  })

  it('keeps retrying a dead RPC without spinning, warns once, reports unhealthy, and stops on abort', async () => {
    const { logger, lines, raw } = captureLogs()
    const registry = new Registry()
    const port = new URL(proxy.url).port
    // Credentials in the URL must never reach the logs.
    const url = `http://indexer:hunter2secret@127.0.0.1:${port}/v2/abcdef0123456789abcdef0123?apikey=topsecretkey`
    const controller = new AbortController()
    const client = createRpcClient({ url, metrics: registry, logger, signal: controller.signal, timeoutMs: 500, baseDelayMs: 5, maxDelayMs: 40 })
    expect(client.health()).toMatchObject({ healthy: true, consecutiveFailures: 0 })

    proxy.setFaults({ down: true })
    const before = proxy.stats.requests
    const pending = client.request('eth_blockNumber', [])
    pending.catch(() => undefined)
    await new Promise((resolve) => setTimeout(resolve, 1_500))

    const health = client.health()
    expect(health.healthy).toBe(false)
    expect(health.consecutiveFailures).toBeGreaterThanOrEqual(3)
    expect(health.lastError).toBeTruthy()
    const attempts = proxy.stats.requests - before
    expect(attempts).toBeGreaterThanOrEqual(5)
    expect(attempts).toBeLessThan(200) // backs off: no spinning

    const abortedAt = Date.now()
    const reason = new Error('test is done')
    controller.abort(reason)
    await expect(pending).rejects.toBe(reason)
    expect(Date.now() - abortedAt).toBeLessThan(200)

    const warnings = lines.filter((l) => l.level === 40)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.msg).toMatch(/^RPC unreachable/)
    const logText = raw.join('')
    for (const secret of ['hunter2secret', 'abcdef0123456789abcdef0123', 'topsecretkey']) expect(logText).not.toContain(secret)
    expect((await counts(registry))['eth_blockNumber/retry']).toBeGreaterThanOrEqual(3)

    // An aborted client rejects new calls at once.
    await expect(client.request('eth_blockNumber', [])).rejects.toBe(reason)
  })

  it('becomes healthy again on the next success after an outage', async () => {
    const { logger, lines } = captureLogs()
    const client = createRpcClient({ url: proxy.url, logger, timeoutMs: 500, baseDelayMs: 5, maxDelayMs: 20 })
    proxy.setFaults({ down: true })
    const pending = client.request<string>('eth_blockNumber', [])
    while (client.health().healthy) await new Promise((resolve) => setTimeout(resolve, 10))
    proxy.setFaults({})
    expect(await pending).toBe(await direct('eth_blockNumber', []))
    const health = client.health()
    expect(health).toMatchObject({ healthy: true, consecutiveFailures: 0 })
    expect(health.lastSuccessAt).toBeGreaterThan(Date.now() - 5_000)
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1)
    expect(lines.some((l) => l.msg === 'RPC reachable again')).toBe(true)
  })

  it('gives up after maxAttempts with a retryable RpcRequestError', async () => {
    const client = createRpcClient({ url: proxy.url, maxAttempts: 3, timeoutMs: 500, baseDelayMs: 5, maxDelayMs: 20 })
    proxy.setFaults({ rate5xx: 1 })
    const before = proxy.stats.requests
    const error = await client.request('eth_blockNumber', []).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RpcRequestError)
    expect(error).toMatchObject({ retryable: true, attempts: 3 })
    expect((error as Error).message).toMatch(/gave up after 3 attempts/)
    expect(proxy.stats.requests - before).toBe(3)
  })

  it('throws RpcRangeTooLargeError for a response over the byte cap', async () => {
    const registry = new Registry()
    const client = createRpcClient({ url: proxy.url, metrics: registry, maxResponseBytes: 2_000, ...quick })
    const calls = Array.from({ length: 10 }, (_, i) => ({ method: 'eth_getBlockByNumber', params: [`0x${i.toString(16)}`, true] }))
    await expect(client.batch(calls)).rejects.toBeInstanceOf(RpcRangeTooLargeError)
    expect((await counts(registry))['eth_getBlockByNumber/range_too_large']).toBe(10)
    // anvil declares its answer's size: the error says how far over the cap it was, so a backfill
    // can cut its range to fit at once instead of halving it again and again.
    const declared = await fetch(dev.anvil.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(calls.map((c, i) => ({ jsonrpc: '2.0', id: i + 1, ...c }))) })
    const size = Number(declared.headers.get('content-length'))
    expect(size).toBeGreaterThan(2_000)
    const error = (await createRpcClient({ url: dev.anvil.rpcUrl, maxResponseBytes: 2_000, ...quick }).batch(calls).catch((e: unknown) => e)) as RpcRangeTooLargeError
    expect(error).toBeInstanceOf(RpcRangeTooLargeError)
    expect(error.overCap).toBeCloseTo(size / 2_000, 1)
    // Small answers still pass.
    expect(await client.request('eth_blockNumber', [])).toBe(await direct('eth_blockNumber', []))
  })

  it('stops reading a streamed (chunked) body past the cap', async () => {
    let sent = 0
    let closed = false
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"jsonrpc":"2.0","id":1,"result":"')
      const chunk = 'a'.repeat(64 * 1024)
      const timer = setInterval(() => {
        if (sent > 200 * 1024 * 1024) return void res.end('"}')
        sent += chunk.length
        res.write(chunk)
      }, 1)
      res.on('close', () => {
        closed = true
        clearInterval(timer)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const client = createRpcClient({ url: `http://127.0.0.1:${port}`, maxResponseBytes: 1024 * 1024, timeoutMs: 10_000 })
      await expect(client.request('eth_getLogs', [{}])).rejects.toThrow(/response too large/)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(closed).toBe(true)
      expect(sent).toBeLessThan(20 * 1024 * 1024)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('shares one counter between clients created on the same registry', async () => {
    const registry = new Registry()
    const first = createRpcClient({ url: proxy.url, metrics: registry, ...quick })
    const second = createRpcClient({ url: proxy.url, metrics: registry, ...quick })
    await first.request('eth_chainId', [])
    await second.request('eth_chainId', [])
    expect((await counts(registry))['eth_chainId/ok']).toBe(2)
    expect(await first.batch([])).toEqual([])
  })
})

describe('maskUrl', () => {
  it('hides userinfo, query strings and key-like path segments', () => {
    expect(maskUrl('https://user:pass@rpc.example.com/path?key=abc')).toBe('https://***@rpc.example.com/path?***')
    expect(maskUrl('https://eth-mainnet.g.alchemy.com/v2/AbCdEf0123456789xyzKEY')).toBe('https://eth-mainnet.g.alchemy.com/v2/***')
    expect(maskUrl('https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef')).toBe('https://mainnet.infura.io/v3/***')
    expect(maskUrl('http://127.0.0.1:8545')).toBe('http://127.0.0.1:8545/')
  })
})
