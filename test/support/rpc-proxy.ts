/**
 * A faulty JSON-RPC proxy for tests: forwards single and batch requests to a real node (anvil)
 * and injects the faults real providers produce, drawn from a seeded PRNG, per HTTP request:
 *
 *   const proxy = await startFaultyRpcProxy({ target: dev.anvil.rpcUrl, seed: 7 })
 *   proxy.setFaults({ rate429: 0.3, rate5xx: 0.3, timeoutRate: 0.3 })
 *   ... point the client at proxy.url ...
 *   await proxy.stop()
 *
 * Each fault is drawn independently for every request, in this order, and the first that hits
 * wins: down, timeout, 429, 5xx; a request that passes is forwarded, after `slowMs` if the slow
 * draw hits. `setFaults` replaces the whole set (what it leaves out is off).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRandom } from '../../src/devnet/index.js'

export type RangeLimitStyle = 'alchemy' | 'infura' | 'quicknode'

export interface RpcFaults {
  /** Hang: never answer, and close the socket after `hangMs` (default 30 s). */
  timeoutRate?: number
  hangMs?: number
  /** 429 with `Retry-After: 0` or `1` and Alchemy's rate-limit body. */
  rate429?: number
  /** 500 (JSON-RPC internal error), 502 or 503 (HTML/text bodies, as load balancers send). */
  rate5xx?: number
  /** Forward after `slowMs` (default 200 ms). */
  slowRate?: number
  slowMs?: number
  /**
   * `eth_getLogs` over more than `maxBlocks` blocks, or whose answer holds more than `maxLogs`
   * logs, fails with that provider's real message and code (default style: alchemy).
   */
  rangeLimit?: { maxBlocks?: number; maxLogs?: number; style?: RangeLimitStyle }
  /** Refuse everything: answer 503 or destroy the socket (half each). */
  down?: boolean
}

export interface FaultyRpcProxyStats {
  /** HTTP requests received. */
  requests: number
  /** HTTP requests forwarded to the target. */
  forwarded: number
  /** Faults injected, by kind: timeout, 429, 5xx, slow, down, rangeLimit. */
  injected: Record<string, number>
}

export interface FaultyRpcProxy {
  url: string
  stats: FaultyRpcProxyStats
  setFaults(faults: RpcFaults): void
  stop(): Promise<void>
}

interface JsonRpcRequest {
  jsonrpc?: string
  id?: unknown
  method?: string
  params?: unknown[]
}

interface JsonRpcReply {
  jsonrpc: '2.0'
  id: unknown
  result?: unknown
  error?: { code: number; message: string }
}

const rateLimitMessage =
  'Your app has exceeded its compute units per second capacity. If you have retries enabled, you can safely ignore this message. If not, check out https://docs.alchemy.com/reference/throughput'

const hex = (n: bigint) => `0x${n.toString(16)}`

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(body)
}

/** The error a provider answers for an eth_getLogs range over its limit. */
function rangeLimitError(
  style: RangeLimitStyle,
  limits: { maxBlocks?: number; maxLogs?: number },
  suggested: { from: bigint; to: bigint },
): { code: number; message: string } {
  const maxLogs = limits.maxLogs ?? 10_000
  switch (style) {
    case 'alchemy':
      return {
        code: -32602,
        message:
          `Log response size exceeded. You can make eth_getLogs requests with up to a ${limits.maxBlocks ?? 2000} block range and no limit on the response size, ` +
          `or you can request any block range with a cap of ${maxLogs} logs in the response. ` +
          `Based on your parameters, this block range should work: [${hex(suggested.from)}, ${hex(suggested.to)}]`,
      }
    case 'infura':
      return {
        code: -32005,
        message: `query returned more than ${maxLogs} results. Try with this block range [0x${suggested.from.toString(16).toUpperCase()}, 0x${suggested.to.toString(16).toUpperCase()}].`,
      }
    case 'quicknode':
      return limits.maxBlocks !== undefined
        ? { code: -32614, message: `eth_getLogs is limited to a ${limits.maxBlocks.toLocaleString('en-US')} range` }
        : { code: -32005, message: `query returned more than ${maxLogs} results` }
  }
}

export async function startFaultyRpcProxy(options: { target: string; seed?: number }): Promise<FaultyRpcProxy> {
  const random = createRandom(options.seed ?? 1)
  let faults: RpcFaults = {}
  const stats: FaultyRpcProxyStats = { requests: 0, forwarded: 0, injected: {} }
  const inject = (kind: string) => {
    stats.injected[kind] = (stats.injected[kind] ?? 0) + 1
  }
  const timers = new Set<NodeJS.Timeout>()
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer)
        resolve()
      }, ms)
      timers.add(timer)
    })

  const upstream = async (payload: unknown): Promise<{ status: number; body: string }> => {
    stats.forwarded += 1
    const response = await fetch(options.target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof payload === 'string' ? payload : JSON.stringify(payload),
    })
    return { status: response.status, body: await response.text() }
  }

  const blockNumberOf = async (tag: unknown, head: () => Promise<bigint>): Promise<bigint> => {
    if (typeof tag === 'string' && /^0x[0-9a-f]+$/i.test(tag)) return BigInt(tag)
    if (tag === 'earliest') return 0n
    return head()
  }

  /** Answers `calls`, applying the range limit to eth_getLogs; other calls go through unchanged. */
  const answer = async (calls: JsonRpcRequest[], limit: NonNullable<RpcFaults['rangeLimit']>): Promise<JsonRpcReply[]> => {
    const style = limit.style ?? 'alchemy'
    let headCache: Promise<bigint> | undefined
    const head = () =>
      (headCache ??= upstream({ jsonrpc: '2.0', id: 0, method: 'eth_blockNumber', params: [] }).then(
        (r) => BigInt((JSON.parse(r.body) as { result: string }).result),
      ))

    const replies = new Array<JsonRpcReply | undefined>(calls.length)
    const ranges = new Map<number, { from: bigint; to: bigint }>()
    for (const [i, call] of calls.entries()) {
      if (call.method !== 'eth_getLogs') continue
      const filter = (call.params?.[0] ?? {}) as { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown }
      if (filter.blockHash !== undefined) continue
      const from = await blockNumberOf(filter.fromBlock, head)
      const to = await blockNumberOf(filter.toBlock, head)
      ranges.set(i, { from, to })
      if (limit.maxBlocks !== undefined && to - from + 1n > BigInt(limit.maxBlocks)) {
        inject('rangeLimit')
        const suggested = { from, to: from + BigInt(limit.maxBlocks) - 1n }
        replies[i] = { jsonrpc: '2.0', id: call.id ?? null, error: rangeLimitError(style, limit, suggested) }
      }
    }

    const pending = calls.filter((_, i) => replies[i] === undefined)
    if (pending.length > 0) {
      const { body } = await upstream(pending)
      const answers = JSON.parse(body) as JsonRpcReply[] | JsonRpcReply
      const list = Array.isArray(answers) ? answers : [answers]
      for (let i = 0; i < calls.length; i++) {
        if (replies[i] !== undefined) continue
        const reply = list.find((a) => a.id === calls[i]!.id)
        if (!reply) continue
        const range = ranges.get(i)
        const logs = reply.result
        if (range && limit.maxLogs !== undefined && Array.isArray(logs) && logs.length > limit.maxLogs) {
          inject('rangeLimit')
          // The blocks before the first log past the cap fit in it.
          const firstOver = BigInt((logs[limit.maxLogs] as { blockNumber: string }).blockNumber)
          const suggested = { from: range.from, to: firstOver > range.from ? firstOver - 1n : range.from }
          replies[i] = { jsonrpc: '2.0', id: reply.id, error: rangeLimitError(style, limit, suggested) }
        } else {
          replies[i] = reply
        }
      }
    }
    return replies.filter((r): r is JsonRpcReply => r !== undefined)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    stats.requests += 1
    const body = await readBody(req)
    const current = faults

    if (current.down) {
      inject('down')
      if (random.chance(0.5)) send(res, 503, 'Service Unavailable', { 'content-type': 'text/plain' })
      else req.socket.destroy()
      return
    }
    if (random.chance(current.timeoutRate ?? 0)) {
      inject('timeout')
      const timer = setTimeout(() => {
        timers.delete(timer)
        req.socket.destroy()
      }, current.hangMs ?? 30_000)
      timers.add(timer)
      res.on('close', () => {
        clearTimeout(timer)
        timers.delete(timer)
      })
      return
    }
    let parsed: JsonRpcRequest | JsonRpcRequest[] | undefined
    try {
      parsed = JSON.parse(body) as JsonRpcRequest | JsonRpcRequest[]
    } catch {
      parsed = undefined
    }
    const firstId = Array.isArray(parsed) ? (parsed[0]?.id ?? null) : (parsed?.id ?? null)
    if (random.chance(current.rate429 ?? 0)) {
      inject('429')
      send(res, 429, JSON.stringify({ jsonrpc: '2.0', id: firstId, error: { code: 429, message: rateLimitMessage } }), {
        'retry-after': random.chance(0.5) ? '0' : '1',
      })
      return
    }
    if (random.chance(current.rate5xx ?? 0)) {
      inject('5xx')
      const variant = random.int(0, 2)
      if (variant === 0) send(res, 500, JSON.stringify({ jsonrpc: '2.0', id: firstId, error: { code: -32603, message: 'internal error' } }))
      else if (variant === 1) send(res, 502, '<html><body><h1>502 Bad Gateway</h1></body></html>', { 'content-type': 'text/html' })
      else send(res, 503, 'upstream connect error or disconnect/reset before headers', { 'content-type': 'text/plain' })
      return
    }
    if (random.chance(current.slowRate ?? 0)) {
      inject('slow')
      await wait(current.slowMs ?? 200)
    }

    try {
      if (current.rangeLimit && parsed !== undefined) {
        const calls = Array.isArray(parsed) ? parsed : [parsed]
        if (calls.some((c) => c?.method === 'eth_getLogs')) {
          const replies = await answer(calls, current.rangeLimit)
          send(res, 200, JSON.stringify(Array.isArray(parsed) ? replies : replies[0]))
          return
        }
      }
      const forwarded = await upstream(body)
      send(res, forwarded.status, forwarded.body)
    } catch (err) {
      send(res, 502, JSON.stringify({ jsonrpc: '2.0', id: firstId, error: { code: -32603, message: `proxy: upstream failed: ${String(err)}` } }))
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message: String(err) } }))
    })
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    setFaults(next) {
      faults = { ...next }
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer)
        timers.clear()
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
