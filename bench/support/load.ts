/**
 * Load generators of `npm run bench:api`, and their figures:
 *   - maxHttp: autocannon, closed loop (each connection sends its next request when the last
 *     one is answered), rotating among the given paths; latencies recorded per response.
 *   - maxCalls: the same closed loop for any call returning a promise (the gRPC clients).
 *   - paced: an open loop at a fixed rate: request i is due at start + i / rate and its latency
 *     runs from that moment, so a server (or client) that falls behind shows it in the
 *     percentiles (no coordinated omission). Used for the fixed-rate runs over HTTP and gRPC.
 *     (autocannon's own overallRate sends each connection's quota for a second in a burst at
 *     the start of that second, and corrects latencies with an expected interval of
 *     ceil(1 / per-connection rate) = 1 ms: neither is "1,000 requests per second".)
 */
import http from 'node:http'
import autocannon from 'autocannon'

export interface Outcome {
  /** 'ok' for HTTP 2xx and gRPC OK; else the HTTP status, the gRPC status name or an error code. */
  status: string
}

export interface LoadResult {
  name: string
  seconds: number
  /** Completed requests (answered, whatever the answer). */
  requests: number
  rps: number
  p50: number
  p95: number
  p99: number
  max: number
  /** Answers that were not 2xx / gRPC OK. */
  failed: number
  /** Connection errors and timeouts (no answer at all). */
  errors: number
  statuses: Record<string, number>
  /** Fixed-rate runs: how late, at most, the generator sent a request (its own event loop held up). */
  behindMs?: number
  /** Per-endpoint latency percentiles (same order as the paths or calls given), when more than one. */
  perEndpoint?: { name: string; requests: number; p50: number; p95: number; p99: number }[]
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

class Recorder {
  readonly latencies: number[][]
  readonly statuses: Record<string, number> = {}
  errors = 0
  constructor(readonly endpoints: readonly string[]) {
    this.latencies = endpoints.map(() => [])
  }
  record(endpoint: number, ms: number, status: string) {
    this.latencies[endpoint]!.push(ms)
    this.statuses[status] = (this.statuses[status] ?? 0) + 1
  }
  result(name: string, seconds: number, extraErrors = 0): LoadResult {
    const all = this.latencies.flat().sort((a, b) => a - b)
    const failed = Object.entries(this.statuses).filter(([s]) => s !== 'ok' && !s.startsWith('2')).reduce((n, [, c]) => n + c, 0)
    const summary: LoadResult = {
      name, seconds, requests: all.length, rps: all.length / seconds,
      p50: percentile(all, 50), p95: percentile(all, 95), p99: percentile(all, 99), max: all.at(-1) ?? Number.NaN,
      failed, errors: this.errors + extraErrors, statuses: this.statuses,
    }
    if (this.endpoints.length > 1) {
      summary.perEndpoint = this.endpoints.map((endpoint, i) => {
        const sorted = [...this.latencies[i]!].sort((a, b) => a - b)
        return { name: endpoint, requests: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) }
      })
    }
    return summary
  }
}

/** autocannon at full speed against `paths` (rotated per connection). */
export async function maxHttp(options: {
  name: string; port: number; paths: readonly string[]; names?: readonly string[]; connections: number; seconds: number
}): Promise<LoadResult> {
  const recorder = new Recorder(options.names ?? options.paths)
  const result = await autocannon({
    url: `http://127.0.0.1:${options.port}`,
    connections: options.connections,
    duration: options.seconds,
    requests: options.paths.map((path) => ({ method: 'GET', path })),
    setupClient(client) {
      // Each client walks the requests array in order; its n-th answer is for path n mod length.
      let sent = 0
      client.on('response', (statusCode: number, _bytes: number, responseTime: number) => {
        recorder.record(sent++ % options.paths.length, responseTime, statusCode >= 200 && statusCode < 300 ? 'ok' : String(statusCode))
      })
    },
  })
  return recorder.result(options.name, result.duration, result.errors)
}

/** `concurrency` loops each awaiting `calls[i mod calls.length]()` back to back, for `seconds`. */
export async function maxCalls(options: {
  name: string; calls: readonly { name: string; run(): Promise<Outcome> }[]; concurrency: number; seconds: number
}): Promise<LoadResult> {
  const { calls } = options
  const recorder = new Recorder(calls.map((c) => c.name))
  const started = performance.now()
  const deadline = started + options.seconds * 1000
  let next = 0
  const loop = async () => {
    while (performance.now() < deadline) {
      const endpoint = next++ % calls.length
      const t0 = performance.now()
      try {
        const outcome = await calls[endpoint]!.run()
        recorder.record(endpoint, performance.now() - t0, outcome.status)
      } catch {
        recorder.errors++
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, loop))
  return recorder.result(options.name, (performance.now() - started) / 1000)
}

/** An open loop at `rate` requests per second over `calls`, in turn, for `seconds`. */
export async function paced(options: {
  name: string; calls: readonly { name: string; run(): Promise<Outcome> }[]; rate: number; seconds: number
}): Promise<LoadResult> {
  const { calls, rate } = options
  const recorder = new Recorder(calls.map((c) => c.name))
  const total = Math.round(rate * options.seconds)
  const inFlight = new Set<Promise<void>>()
  let behindMs = 0
  const started = performance.now()
  let sent = 0
  while (sent < total) {
    const now = performance.now()
    const due = Math.min(total, Math.floor(((now - started) * rate) / 1000) + 1)
    for (; sent < due; sent++) {
      const scheduled = started + (sent * 1000) / rate
      behindMs = Math.max(behindMs, now - scheduled)
      const endpoint = sent % calls.length
      const call: Promise<void> = calls[endpoint]!.run().then(
        (outcome) => recorder.record(endpoint, performance.now() - scheduled, outcome.status),
        () => void recorder.errors++,
      ).finally(() => inFlight.delete(call))
      inFlight.add(call)
    }
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await Promise.all(inFlight)
  const result = recorder.result(options.name, options.seconds)
  return { ...result, rps: result.requests / ((performance.now() - started) / 1000), behindMs }
}

/** GET `path` on 127.0.0.1:`port` through a keep-alive agent, the body read and dropped. */
export function httpGetter(port: number, sockets: number): { get(path: string): Promise<Outcome>; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets })
  return {
    get: (path) =>
      new Promise<Outcome>((resolve, reject) => {
        const request = http.get({ host: '127.0.0.1', port, path, agent, timeout: 10_000 }, (response) => {
          response.resume()
          response.on('end', () => {
            const code = response.statusCode ?? 0
            resolve({ status: code >= 200 && code < 300 ? 'ok' : String(code) })
          })
          response.on('error', reject)
        })
        request.on('timeout', () => request.destroy(new Error('timeout')))
        request.on('error', reject)
      }),
    close: () => agent.destroy(),
  }
}
