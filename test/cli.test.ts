/**
 * The `haithe` command as a user runs it: `node bin/haithe.js <command>` from the repository
 * root, with no database server and nothing configured (DATABASE_URL and every other setting
 * removed from the environment), the data directory in a fresh temp dir and JSON logs.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs'
import { once } from 'node:events'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createPublicClient, http } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startAnvil, type Anvil } from '../src/chain/index.js'
import { freePort, haitheEnv, repoRoot, runHaithe, signalGroup, startHaithe, stopAllHaithe, type HaitheProcess, type LogLine } from './support/cli.js'

const dataDirs: string[] = []
function freshDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'haithe-cli-test-'))
  dataDirs.push(dir)
  return dir
}

/** A user's environment with nothing configured, a fresh data directory and JSON logs, plus `extra`. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return haitheEnv({ HAITHE_DATA_DIR: freshDataDir(), LOG_FORMAT: 'json', ...extra })
}

// A process that outlived its test (a failed assertion) is killed with everything it started.
afterAll(async () => {
  await stopAllHaithe()
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true })
})

/** Polls `url` until it answers `status` (bounded); returns the response. */
async function waitForStatus(url: string, status: number, timeoutMs: number, proc?: HaitheProcess): Promise<Response> {
  const deadline = Date.now() + timeoutMs
  let last: string
  for (;;) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(3_000) })
      if (response.status === status) return response
      last = `${response.status} ${await response.text()}`
    } catch (error) {
      last = (error as Error).message
    }
    if (proc?.hasExited()) throw new Error(`the process exited while waiting for ${url}; stderr: ${proc.stderr().slice(-2000)}`)
    if (Date.now() > deadline) throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`)
    await sleep(250)
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.setTimeout(2_000)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(false))
  })
}

/** Resolves with the exit, or rejects after `timeoutMs`. */
async function exitWithin(proc: HaitheProcess, timeoutMs: number) {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      proc.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms of SIGTERM`)), timeoutMs)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Waits (bounded) until no process is left in the group `pgid`: the CLI and its anvil are gone. */
async function groupGone(pgid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (signalGroup(pgid, 0)) {
    if (Date.now() > deadline) return false
    await sleep(100)
  }
  return true
}

const marketLines = (proc: HaitheProcess): LogLine[] => proc.logs().filter((line) => line.msg?.startsWith('market:'))
const actionsOf = (lines: LogLine[]) => new Set(lines.map((line) => line.action))

/** stderr is exactly one line, `haithe: ...`, naming `names`, with no stack frame and none of `secrets`. */
function expectOneLine(stderr: string, names: string[], secrets: string[] = []): void {
  expect(stderr.endsWith('\n'), JSON.stringify(stderr)).toBe(true)
  const lines = stderr.split('\n').filter((line) => line.trim() !== '')
  expect(lines, stderr).toHaveLength(1)
  expect(stderr.trimEnd().split('\n')).toHaveLength(1)
  expect(lines[0]).toMatch(/^haithe: \S/)
  for (const name of names) expect(lines[0]).toContain(name)
  expect(stderr).not.toMatch(/^\s+at /m)
  for (const secret of secrets) expect(stderr).not.toContain(secret)
}

describe('haithe dev, from nothing', () => {
  const dataDir = freshDataDir()
  let dev: HaitheProcess
  let port: number
  let rpcUrl: string
  let orchestrator: string
  let lastMarketBlock: number

  // One process runs through the tests below; killed here if a test failed before stopping it.
  afterAll(() => stopAllHaithe())

  it('answers GET /health with 200 within 60 s, with no database server and no configuration', async () => {
    port = await freePort()
    const startedAt = Date.now()
    dev = startHaithe(['dev'], haitheEnv({ HAITHE_DATA_DIR: dataDir, LOG_FORMAT: 'json', PORT: String(port), GRPC_PORT: '0', GATEWAY_PORT: '0' }))
    const response = await waitForStatus(`http://127.0.0.1:${port}/health`, 200, 60_000, dev)
    expect(await response.json()).toEqual({ status: 'ok' })
    // anvil, the contracts and the simulator are up within the same 60 s.
    const ready = await dev.waitForLog((line) => line.msg?.startsWith('local chain ready') === true, { timeoutMs: Math.max(1, 60_000 - (Date.now() - startedAt)), what: 'local chain ready' })
    rpcUrl = String(ready.rpcUrl)
    orchestrator = String(ready.orchestrator)
    expect(rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(orchestrator).toMatch(/^0x[0-9a-fA-F]{40}$/)
    expect(dev.logs().some((line) => line.msg === 'devnet: contracts deployed')).toBe(true)
  }, 120_000)

  it('logs market activity of at least three different kinds', async () => {
    await dev.waitForLog(() => actionsOf(marketLines(dev)).size >= 3, { timeoutMs: 60_000, what: 'market activity of 3 kinds' })
    for (const line of marketLines(dev)) {
      expect(line.level).toBe(30)
      expect(typeof line.action).toBe('string')
      expect(line.block).toBeGreaterThan(0)
    }
    expect(dev.stderr()).toBe('')
  }, 90_000)

  it('is ready: /health/ready is 200 with the database (pglite) and chain checks passing', async () => {
    const response = await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 30_000, dev)
    const report = (await response.json()) as { ready: boolean; checks: Record<string, { ready: boolean; detail?: string }> }
    expect(report.ready).toBe(true)
    expect(report.checks.database).toEqual({ ready: true, detail: 'pglite' })
    expect(report.checks.chain?.ready).toBe(true)
    expect(report.checks.chain?.detail).toMatch(/^head \d+$/)
  }, 60_000)

  it('runs the gateway: v1 /api answers, and a wallet signs in with personal_sign', async () => {
    const line = dev.logs().find((l) => l.msg?.startsWith('gateway listening on ') === true)
    const gatewayPort = Number(/localhost:(\d+)/.exec(String(line?.msg))?.[1])
    expect(gatewayPort).toBeGreaterThan(0)
    const gateway = `http://127.0.0.1:${gatewayPort}/api/v1`
    const models = (await (await fetch(`${gateway}/models`)).json()) as { success: boolean; data: { name: string }[] | { models: { name: string }[] } }
    expect(models.success).toBe(true)
    expect(JSON.stringify(models.data)).toContain('gemini-2.0-flash')

    const wallet = privateKeyToAccount(generatePrivateKey())
    const nonce = (await (await fetch(`${gateway}/auth/nonce?address=${wallet.address}`)).json()) as { data: { nonce: string } }
    const signature = await wallet.signMessage({ message: nonce.data.nonce })
    const login = await fetch(`${gateway}/auth/login?address=${wallet.address}&signature=${signature}`, { method: 'POST' })
    expect(login.status).toBe(200)
    const { data } = (await login.json()) as { data: { token: string } }
    const me = (await (await fetch(`${gateway}/me`, { headers: { authorization: `Bearer ${data.token}` } })).json()) as { data: { address: string } }
    expect(me.data.address).toBe(wallet.address.toLowerCase())
  })

  it('serves Prometheus metrics', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await response.text()).toContain('process_cpu_user_seconds_total')
  })

  it('keeps the chain and its deployment under the data directory', () => {
    const file = path.join(dataDir, 'devnet', 'deployment.json')
    expect(existsSync(file)).toBe(true)
    const deployment = JSON.parse(readFileSync(file, 'utf8')) as { orchestrator: string; chainId: number }
    expect(deployment.orchestrator.toLowerCase()).toBe(orchestrator.toLowerCase())
    expect(deployment.chainId).toBe(31337)
    expect(existsSync(path.join(dataDir, 'pglite'))).toBe(true)
  })

  it('on SIGTERM exits with code 0 and stops its anvil', async () => {
    lastMarketBlock = Math.max(...marketLines(dev).map((line) => Number(line.block)))
    const anvilPort = Number(new URL(rpcUrl).port)
    expect(await accepts(anvilPort)).toBe(true)

    dev.child.kill('SIGTERM')
    const exit = await exitWithin(dev, 30_000)
    expect(exit).toEqual({ code: 0, signal: null })
    expect(dev.logs().some((line) => line.msg === 'shutting down' && line.reason === 'SIGTERM')).toBe(true)
    expect(await accepts(anvilPort)).toBe(false)
    expect(await groupGone(dev.pid)).toBe(true)
    expect(dev.stderr()).toBe('')
  }, 60_000)

  it('started again on the same data directory, resumes the persisted chain (no redeploy) and the market goes on', async () => {
    port = await freePort()
    const again = startHaithe(['dev'], haitheEnv({ HAITHE_DATA_DIR: dataDir, LOG_FORMAT: 'json', PORT: String(port), GRPC_PORT: '0', GATEWAY_PORT: '0' }))
    const resumed = await again.waitForLog((line) => line.msg === 'devnet: resumed the persisted chain', { timeoutMs: 60_000, what: 'the resumed chain' })
    expect(String(resumed.orchestrator).toLowerCase()).toBe(orchestrator.toLowerCase())
    // Every block the market made before the stop is still there.
    const head = Number(resumed.head)
    expect(head).toBeGreaterThanOrEqual(lastMarketBlock)

    await again.waitForLog(() => marketLines(again).length >= 2, { timeoutMs: 60_000, what: 'market activity after the restart' })
    expect(again.logs().some((line) => line.msg === 'devnet: contracts deployed')).toBe(false)
    for (const line of marketLines(again)) expect(Number(line.block)).toBeGreaterThan(head)
    await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 30_000, again)

    again.child.kill('SIGTERM')
    expect(await exitWithin(again, 30_000)).toEqual({ code: 0, signal: null })
    expect(await groupGone(again.pid)).toBe(true)
  }, 180_000)
})

describe('mistakes a user makes are one line on stderr', () => {
  afterEach(() => stopAllHaithe())

  it('migrate with an unreachable DATABASE_URL: exit 1, one line naming DATABASE_URL, the password masked', async () => {
    const env = cliEnv({ DATABASE_URL: 'postgres://postgres:secretpw@127.0.0.1:1/x' })
    const result = await runHaithe(['migrate'], env)
    expect(result.code).toBe(1)
    expectOneLine(result.stderr, ['DATABASE_URL'], ['secretpw'])
  })

  it('dev with an unreachable DATABASE_URL: exit 1, one line, nothing left running', async () => {
    const env = cliEnv({ PORT: String(await freePort()), DATABASE_URL: 'postgres://postgres:secretpw@127.0.0.1:1/x' })
    const proc = startHaithe(['dev'], env)
    const exit = await exitWithin(proc, 60_000)
    expect(exit.code).toBe(1)
    expectOneLine(proc.stderr(), ['DATABASE_URL'], ['secretpw'])
    expect(proc.stdout()).not.toContain('secretpw')
    expect(await groupGone(proc.pid)).toBe(true)
  }, 90_000)

  it.each([
    ['DATABASE_URL', 'mysql://root:secretpw@127.0.0.1/haithe', ['secretpw']],
    ['SERVER_PVT_KEY', '0x1234', ['0x1234']],
    ['SERVER_PVT_KEY', 'not-a-key-at-all', ['not-a-key-at-all']],
    ['JWT_SECRET', 'short-jwt-secret', ['short-jwt-secret']],
    ['PORT', 'abc', []],
    ['LOG_LEVEL', 'loud', []],
    ['INFERENCE_ALLOW_HOSTS', '127.0.0.1,not a host', []],
  ])('dev with %s=%s: exit 1, one line naming it', async (name, value, secrets) => {
    const env = cliEnv({ [name]: value })
    const result = await runHaithe(['dev'], env)
    expect(result.code).toBe(1)
    expectOneLine(result.stderr, [name], secrets)
    expect(result.stdout).toBe('')
  })

  it('indexer on a port in use: exit 1, one line naming INDEXER_PORT', async () => {
    const port = await freePort()
    const taken = createServer().listen(port, '127.0.0.1')
    await once(taken, 'listening')
    try {
      const result = await runHaithe(['indexer'], cliEnv({ INDEXER_PORT: String(port), BLOCKCHAIN_PROVIDER_URL: 'http://127.0.0.1:1' }))
      expect(result.code).toBe(1)
      expectOneLine(result.stderr, ['INDEXER_PORT', String(port)])
    } finally {
      taken.close()
    }
  })

  it('an unknown command: exit 2, one line', async () => {
    const result = await runHaithe(['frobnicate'], cliEnv())
    expect(result.code).toBe(2)
    expectOneLine(result.stderr, ['frobnicate'])
  })

  it('simulate --events abc: exit 2, one line naming --events', async () => {
    const result = await runHaithe(['simulate', '--events', 'abc'], cliEnv())
    expect(result.code).toBe(2)
    expectOneLine(result.stderr, ['--events'])
  })

  it('simulate with no chain at --rpc: exit 1, one line naming the URL', async () => {
    const result = await runHaithe(['simulate', '--events', '5', '--rpc', 'http://127.0.0.1:1'], cliEnv())
    expect(result.code).toBe(1)
    expectOneLine(result.stderr, ['http://127.0.0.1:1'])
  })
})

describe('haithe migrate', () => {
  afterEach(() => stopAllHaithe())

  it('on a fresh embedded database applies the migrations; a second run finds it up to date', async () => {
    const env = cliEnv()
    const first = await runHaithe(['migrate'], env)
    expect(first.code, first.stderr).toBe(0)
    expect(first.logs.at(-1)?.msg).toMatch(/^applied \d+ migration\(s\)$/)
    expect(first.logs.at(-1)?.target).toMatch(/PGlite/)

    const second = await runHaithe(['migrate'], env)
    expect(second.code, second.stderr).toBe(0)
    expect(second.logs.at(-1)?.msg).toBe('database is up to date')
    expect(second.logs.at(-1)?.applied).toEqual([])
  }, 120_000)
})

describe('haithe simulate', () => {
  let anvil: Anvil | undefined

  beforeAll(async () => {
    anvil = await startAnvil()
  })
  afterEach(() => stopAllHaithe())
  afterAll(async () => {
    await anvil?.stop()
  })

  it('puts at least --events events on a local anvil chain, as many as it reports', async () => {
    const result = await runHaithe(['simulate', '--events', '3000', '--rpc', anvil!.rpcUrl], cliEnv(), 150_000)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toBe('')
    const final = result.logs.at(-1)
    expect(final?.msg).toMatch(/^simulated \d+ events/)
    const events = Number(final?.events)
    const fromBlock = BigInt(Number(final?.fromBlock))
    expect(events).toBeGreaterThanOrEqual(3000)

    const client = createPublicClient({ transport: http(anvil!.rpcUrl) })
    const all = await client.getLogs({ fromBlock: 0n, toBlock: 'latest' })
    expect(all.length).toBeGreaterThanOrEqual(3000)
    // The simulation's own events (the blocks before fromBlock hold the contract deployment).
    const simulated = all.filter((log) => log.blockNumber !== null && log.blockNumber >= fromBlock)
    expect(simulated.length).toBe(events)
    expect(all.length - simulated.length).toBeLessThan(10)
  }, 180_000)
})

describe('haithe runs from a bundle of its sources', () => {
  const manifestFile = path.join(repoRoot, 'dist/cli/manifest.json')
  const readManifest = () => JSON.parse(readFileSync(manifestFile, 'utf8')) as { dir: string; inputs: Record<string, number> }

  it('builds it again when a file it was built from changes, and runs from the new build', async () => {
    expect((await runHaithe(['--help'], cliEnv())).code).toBe(0)
    const before = readManifest()
    expect(Object.keys(before.inputs)).toContain('indexer/indexer.ts')
    expect(existsSync(path.join(repoRoot, 'dist/cli', before.dir, 'cli.js'))).toBe(true)

    // As an editor saving the file: a new modification time.
    const source = path.join(repoRoot, 'src/cli.ts')
    const changed = new Date(Math.floor(statSync(source).mtimeMs) + 1_000)
    utimesSync(source, changed, changed)
    const run = await runHaithe(['--help'], cliEnv())
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('commands:')
    expect(run.stderr).toBe('')
    const after = readManifest()
    expect(after.dir).not.toBe(before.dir)
    expect(after.inputs['src/cli.ts']).toBe(statSync(source).mtimeMs)
    expect(existsSync(path.join(repoRoot, 'dist/cli', after.dir, 'cli.js'))).toBe(true)
  })
})
