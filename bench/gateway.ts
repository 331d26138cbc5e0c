/**
 * `npm run bench:gateway`: what the gateway adds to an inference call. A fake OpenAI-compatible
 * upstream (its own process) answers at once; the same requests go to it directly and through
 * `haithe gateway` (its own process, on PostgreSQL: authentication by `sk-` key, organization and
 * project headers, pricing and billing: a JSON call reserved in memory and charged by one statement,
 * a stream reserved in the ledger and then charged), non-streaming and
 * streaming. Prints added latency p50/p99 at one connection, time to first token, and the
 * throughput ratio at ten connections; ends with one JSON line.
 *
 * Knobs: BENCH_SECONDS (per run, default 8), DATABASE_URL (default the local PostgreSQL server).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { parseEther } from 'viem'
import { haitheOrchestratorAbi } from '../src/chain/index.js'
import { decodeLogs, devWalletKey, waitForSuccess } from '../test/support/devchain.js'
import { GATEWAY_KEY_INDEX, startTestGateway } from '../test/support/gateway.js'
import { freePort } from '../test/support/cli.js'
import { startGatewayProcess } from '../test/support/gateway-process.js'
import { maxCalls, percentile, type LoadResult, type Outcome } from './support/load.js'

process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres'
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8)
const MODEL = 'openai/gpt-oss-20b'

const log = (line: string) => process.stderr.write(`${line}\n`)

// ---- the fake upstream, in its own process ----
const upstreamProcess = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'support/fake-upstream-server.ts')], { stdio: ['ignore', 'pipe', 'inherit'] })
const upstreamUrl = await new Promise<string>((resolve, reject) => {
  createInterface({ input: upstreamProcess.stdout }).once('line', (line) => resolve((JSON.parse(line) as { url: string }).url))
  upstreamProcess.once('exit', (code) => reject(new Error(`the fake upstream exited (${code})`)))
})
// Whatever happens below, the upstream does not outlive the bench.
process.once('exit', () => upstreamProcess.kill('SIGTERM'))
const upstream = new URL(upstreamUrl)

// ---- chain, database, and an organization with a project, an enrolled model and an sk- key ----
log('setting up: anvil, contracts, PostgreSQL, an organization with a project and an API key ...')
const providers = { groq: { apiKey: 'bench-upstream-key', baseUrl: upstreamUrl } }
const gw = await startTestGateway({ config: { providers } })
const owner = await gw.dev.wallet(1)
const created = await waitForSuccess(gw.dev.publicClient, await owner.writeContract({
  address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: ['Bench Org'],
}))
const orgAddress = decodeLogs(haitheOrchestratorAbi, created, { eventName: 'OrganizationCreated' })[0]!.args.organization
await gw.fund(orgAddress, parseEther('1000000'))
await gw.indexer.caughtUp()
const token = await gw.signIn(owner)
const must = async <T>(answer: Promise<{ status: number; text: string; body: { data: T } }>, what: string): Promise<T> => {
  const a = await answer
  if (a.status >= 300) throw new Error(`${what}: ${a.status} ${a.text}`)
  return a.body.data
}
const org = await must(gw.call<{ id: number; organization_uid: string }>('POST', '/api/v1/orgs', { token, query: { tx_hash: created.transactionHash } }), 'POST /orgs')
const model = (await gw.w.db.selectFrom('app.models').select(['id', 'price_per_call']).where('name', '=', MODEL).executeTakeFirstOrThrow())
await must(gw.call('POST', `/api/v1/orgs/${org.id}/models`, { token, query: { model_id: model.id } }), 'enrol the model')
const project = await must(gw.call<{ id: number; project_uid: string }>('POST', '/api/v1/projects', { token, query: { org_id: org.id, name: 'bench' } }), 'POST /projects')
const { api_key: apiKey } = await must(gw.call<{ api_key: string }>('GET', '/api/v1/me/api-key', { token }), 'GET /me/api-key')

// ---- the gateway under test, in its own process on the same database and chain ----
const configFile = path.join(tmpdir(), `haithe-bench-gateway-${randomBytes(4).toString('hex')}.json`)
await writeFile(configFile, JSON.stringify({ providers, gateway: { settlementIntervalMs: 0 } }))
const gatewayPort = await freePort()
const child = startGatewayProcess({
  rpcUrl: gw.dev.anvil.rpcUrl, database: { env: { DATABASE_URL: gw.database.url! } }, privateKey: devWalletKey(GATEWAY_KEY_INDEX),
  jwtSecret: randomBytes(32).toString('hex'), configFile, logLevel: 'warn',
  // warn: the access log's line per request is at info (as in bench:api).
  env: { ...(process.env.BENCH_GATEWAY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS } : {}), GATEWAY_PORT: String(gatewayPort), RATE_LIMIT_ANONYMOUS_PER_MINUTE: '100000000', RATE_LIMIT_IDENTIFIED_PER_MINUTE: '100000000' },
})
const gateway = new URL(`http://127.0.0.1:${gatewayPort}`)
await waitForHealth(gateway)

// ---- the requests ----
const body = (stream: boolean) => JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say hello.' }], ...(stream ? { stream: true } : {}) })
const gatewayHeaders = { authorization: `Bearer ${apiKey}`, 'openai-organization': `org-${org.organization_uid}`, 'openai-project': `proj-${project.project_uid}` }
const directHeaders = { authorization: 'Bearer bench-upstream-key' }

interface Target { name: string; port: number; path: string; headers: Record<string, string> }
const direct: Target = { name: 'direct', port: Number(upstream.port), path: `${upstream.pathname}/chat/completions`, headers: directHeaders }
const viaGateway: Target = { name: 'gateway', port: Number(gateway.port), path: '/api/v1beta/openai/chat/completions', headers: gatewayHeaders }

/** POSTs a completion; resolves at the end of the answer, with the time to the first content token for streams. */
function caller(target: Target, stream: boolean, sockets: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets })
  const payload = body(stream)
  const firstTokens: number[] = []
  const run = () =>
    new Promise<Outcome>((resolve, reject) => {
      const started = performance.now()
      const request = http.request(
        { host: '127.0.0.1', port: target.port, path: target.path, method: 'POST', agent, headers: { ...target.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (response) => {
          let seen = false
          let text = ''
          response.setEncoding('utf8')
          response.on('data', (chunk: string) => {
            if (!stream || seen) return
            text += chunk
            if (/"delta":\{[^}]*"content":"[^"]/.test(text)) {
              seen = true
              firstTokens.push(performance.now() - started)
            }
          })
          response.on('end', () => resolve({ status: response.statusCode === 200 ? 'ok' : String(response.statusCode) }))
          response.on('error', reject)
        },
      )
      request.on('error', reject)
      request.end(payload)
    })
  return { run, firstTokens, close: () => agent.destroy() }
}

async function measure(target: Target, stream: boolean, connections: number, seconds = SECONDS): Promise<LoadResult & { ttftP50?: number; ttftP99?: number }> {
  const c = caller(target, stream, connections)
  await maxCalls({ name: 'warm-up', calls: [{ name: target.name, run: c.run }], concurrency: connections, seconds: 1 })
  c.firstTokens.length = 0
  const result = await maxCalls({ name: `${target.name} ${stream ? 'stream' : 'json'} x${connections}`, calls: [{ name: target.name, run: c.run }], concurrency: connections, seconds })
  c.close()
  const ttft = [...c.firstTokens].sort((a, b) => a - b)
  if (result.failed || result.errors) log(`  ${result.name}: ${result.failed} failed answers ${JSON.stringify(result.statuses)}, ${result.errors} errors`)
  return { ...result, ...(stream ? { ttftP50: percentile(ttft, 50), ttftP99: percentile(ttft, 99) } : {}) }
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`
const show = (r: LoadResult & { ttftP50?: number; ttftP99?: number }) =>
  log(`  ${r.name.padEnd(22)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${fmt(r.p50)}  p95 ${fmt(r.p95)}  p99 ${fmt(r.p99)}${r.ttftP50 !== undefined ? `  first token p50 ${fmt(r.ttftP50)} p99 ${fmt(r.ttftP99!)}` : ''}`)

try {
  const chargedBefore = await chargedLines()
  log(`\nmeasuring, ${SECONDS} s a run (fake upstream answers at once; gateway: sk- key, org/project headers, pricing, billing on PostgreSQL)`)
  const directJson1 = await measure(direct, false, 1); show(directJson1)
  const gatewayJson1 = await measure(viaGateway, false, 1); show(gatewayJson1)
  const directStream1 = await measure(direct, true, 1); show(directStream1)
  const gatewayStream1 = await measure(viaGateway, true, 1); show(gatewayStream1)
  const directJson10 = await measure(direct, false, 10); show(directJson10)
  const gatewayJson10 = await measure(viaGateway, false, 10); show(gatewayJson10)

  const gatewayOk = [gatewayJson1, gatewayStream1, gatewayJson10].reduce((n, r) => n + (r.statuses.ok ?? 0), 0)
  const charged = (await chargedLines()) - chargedBefore
  const figures = {
    bench: 'gateway',
    added_p50_ms: round(gatewayJson1.p50 - directJson1.p50),
    added_p99_ms: round(gatewayJson1.p99 - directJson1.p99),
    direct_p50_ms: round(directJson1.p50),
    gateway_p50_ms: round(gatewayJson1.p50),
    stream_added_first_token_p50_ms: round(gatewayStream1.ttftP50! - directStream1.ttftP50!),
    stream_added_first_token_p99_ms: round(gatewayStream1.ttftP99! - directStream1.ttftP99!),
    stream_added_p50_ms: round(gatewayStream1.p50 - directStream1.p50),
    direct_rps_10: Math.round(directJson10.rps),
    gateway_rps_10: Math.round(gatewayJson10.rps),
    throughput_ratio_10: round(gatewayJson10.rps / directJson10.rps, 3),
    // Every answered call is one charged ledger line (at least: warm-up calls are charged too).
    charged_lines: charged,
    answered_ok: gatewayOk,
  }
  log(`\nadded at one connection: p50 ${fmt(figures.added_p50_ms)}, p99 ${fmt(figures.added_p99_ms)} (goals ≤ 2 ms, ≤ 10 ms)`)
  log(`streaming, first token: +${fmt(figures.stream_added_first_token_p50_ms)} p50, +${fmt(figures.stream_added_first_token_p99_ms)} p99`)
  log(`ten connections: ${figures.gateway_rps_10} req/s through the gateway, ${figures.direct_rps_10} direct: ratio ${figures.throughput_ratio_10} (goal ≥ 0.1)`)
  log(`billing: ${charged} charged ledger lines for ${gatewayOk} answered calls (plus warm-ups)`)
  console.log(JSON.stringify(figures))
} finally {
  child.proc.child.kill('SIGTERM')
  upstreamProcess.kill('SIGTERM')
  await gw.close()
}

async function chargedLines(): Promise<number> {
  const row = await gw.w.db.selectFrom('app.usage_ledger').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '=', 'charged').executeTakeFirstOrThrow()
  return Number(row.n)
}

async function waitForHealth(base: URL): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const ok = await fetch(new URL('/health', base)).then((r) => r.ok, () => false)
    if (ok) return
    if (Date.now() > deadline) throw new Error(`haithe gateway did not answer on ${base.href} within 60 s`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

function round(value: number, digits = 2): number {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}
