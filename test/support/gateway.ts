/**
 * The write path for tests, wired as `haithe gateway` wires it (`startGateway`): on a fresh
 * database, over anvil with the real contracts and the indexer following it in-process. The
 * gateway signs with its own key (extra wallet 900), made the orchestrator's `server` and
 * given tUSDT, so tests stay free to send from the deployer (`dev.server`).
 *
 *   const gw = await startTestGateway()
 *   const alice = await gw.dev.wallet(1)
 *   const token = await gw.signIn(alice)
 *   const me = await gw.call('GET', '/api/v1/me', { token })   // { status, body: { success, message, data } }
 *   await gw.close()
 */
import { randomBytes } from 'node:crypto'
import { parseEther, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { haitheOrchestratorAbi, testUSDTAbi, type ChainWalletClient } from '../../src/chain/index.js'
import { startGateway } from '../../src/commands/gateway.js'
import { loadConfig, type ChainConfig, type HaitheConfig } from '../../src/config/index.js'
import { createContext, type Context } from '../../src/context.js'
import type { GatewayServer, WriteContext } from '../../src/write/index.js'
import { createTestDatabase, type TestDatabase } from './database.js'
import { devChainConfig, devWalletKey, startDevChain, waitForSuccess, type DevChain } from './devchain.js'
import { eventually } from './eventually.js'
import { runIndexer, type RunningIndexer } from './indexing.js'

export const GATEWAY_KEY_INDEX = 900

export interface Envelope<T = unknown> {
  success: boolean
  message: string
  data: T
  code?: string
}

export interface GatewayAnswer<T = unknown> {
  status: number
  headers: Headers
  /** Parsed JSON (the envelope on /api routes), or undefined when the body is not JSON. */
  body: Envelope<T>
  text: string
}

export interface CallOptions {
  /** Query string parameters (v1 sends most parameters here, also on POST and PATCH). */
  query?: Record<string, string | number | boolean | undefined>
  /** A JSON body. */
  body?: unknown
  /** Sent as `Authorization: Bearer <token>` (a session JWT or an API key). */
  token?: string
  headers?: Record<string, string>
}

export interface TestGateway {
  url: string
  dev: DevChain
  chain: ChainConfig
  database: TestDatabase
  indexer: RunningIndexer
  context: Context
  w: WriteContext
  server: GatewayServer
  /** One HTTP request; never throws on a status. */
  call<T = unknown>(method: string, path: string, options?: CallOptions): Promise<GatewayAnswer<T>>
  /** Signs `wallet` in through GET /auth/nonce and POST /auth/login (personal_sign); returns the session token. */
  signIn(wallet: ChainWalletClient): Promise<string>
  /**
   * Registers `wallet` as a creator the way clients do (POST /api/v1/creator: the gateway's outbox
   * sends registerAsCreator) and waits until the index knows it. Tests must not send from the
   * gateway's key themselves: its outbox owns that account's nonces.
   */
  registerCreator(wallet: ChainWalletClient): Promise<void>
  /** Sends tUSDT from the deployer to `to` and waits for it. */
  fund(to: `0x${string}`, amount: bigint): Promise<void>
  close(): Promise<void>
}

export interface TestGatewayOptions {
  /** Deep-merged over the test configuration. */
  config?: Record<string, unknown>
  /** Reuse a running chain (the caller stops it). */
  dev?: DevChain
}

export function gatewayTestConfig(overrides: Record<string, unknown> = {}): HaitheConfig {
  return loadConfig({
    env: {},
    overrides: {
      log: { level: process.env.TEST_LOG_LEVEL ?? 'silent', format: 'json' },
      api: { rateLimit: { anonymousPerMinute: 1_000_000, identifiedPerMinute: 1_000_000 } },
      gateway: { host: '127.0.0.1', port: 0, confirmations: 1, stuckAfterMs: 5_000, indexWaitMs: 10_000, settlementIntervalMs: 0 },
      redisUrl: null,
      ...overrides,
    },
  })
}

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const dev = options.dev ?? (await startDevChain())
  const chain = devChainConfig(dev)
  const database = await createTestDatabase()
  const gatewayKey: Hex = devWalletKey(GATEWAY_KEY_INDEX)
  const gatewayAddress = privateKeyToAccount(gatewayKey).address
  await dev.testClient.setBalance({ address: gatewayAddress, value: parseEther('1000') })
  await waitForSuccess(dev.publicClient, await dev.server.writeContract({ address: dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'setServer', args: [gatewayAddress] }))
  await waitForSuccess(dev.publicClient, await dev.server.writeContract({ address: dev.deployment.tusdt, abi: testUSDTAbi, functionName: 'transfer', args: [gatewayAddress, parseEther('10000000')] }))

  const indexer = runIndexer(database.db, database.kind, chain)
  const context = createContext(gatewayTestConfig(options.config), 'gateway-test')
  const { w, server } = startGateway(context, database, chain, { privateKey: gatewayKey, jwtSecret: randomBytes(32).toString('hex') })
  const { port } = await server.listen('127.0.0.1', 0)
  const url = `http://127.0.0.1:${port}`

  const call = async <T>(method: string, path: string, callOptions: CallOptions = {}): Promise<GatewayAnswer<T>> => {
    const target = new URL(path, url)
    for (const [name, value] of Object.entries(callOptions.query ?? {})) if (value !== undefined) target.searchParams.set(name, String(value))
    const headers: Record<string, string> = { ...callOptions.headers }
    if (callOptions.token) headers.authorization = `Bearer ${callOptions.token}`
    let body: string | undefined
    if (callOptions.body !== undefined) {
      body = JSON.stringify(callOptions.body)
      headers['content-type'] = 'application/json'
    }
    const response = await fetch(target, { method, headers, ...(body !== undefined ? { body } : {}) })
    const text = await response.text()
    let parsed: unknown
    if ((response.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text)
    return { status: response.status, headers: response.headers, body: parsed as Envelope<T>, text }
  }

  const signIn = async (wallet: ChainWalletClient): Promise<string> => {
    const address = wallet.account.address
    const nonce = await call<{ nonce: string }>('GET', '/api/v1/auth/nonce', { query: { address } })
    if (nonce.status !== 200) throw new Error(`GET /auth/nonce: ${nonce.status} ${nonce.text}`)
    const signature = await wallet.signMessage({ message: nonce.body.data.nonce })
    const login = await call<{ token: string }>('POST', '/api/v1/auth/login', { query: { address, signature } })
    if (login.status !== 200) throw new Error(`POST /auth/login: ${login.status} ${login.text}`)
    return login.body.data.token
  }

  return {
    url, dev, chain, database, indexer, context, w, server, call,
    signIn,
    async registerCreator(wallet) {
      const token = await signIn(wallet)
      const answer = await call('POST', '/api/v1/creator', { token, body: { uri: `ipfs://creator/${wallet.account.address}`, pub_key: 'pub' } })
      if (answer.status >= 300) throw new Error(`POST /api/v1/creator: ${answer.status} ${answer.text}`)
      await eventually(() => call<{ registered: boolean }>('GET', '/api/v1/me', { token }), (me) => me.body.data.registered, `${wallet.account.address} registered in the index`)
    },
    async fund(to, amount) {
      await waitForSuccess(dev.publicClient, await dev.server.writeContract({ address: dev.deployment.tusdt, abi: testUSDTAbi, functionName: 'transfer', args: [to, amount] }))
    },
    async close() {
      await context.shutdown.run('test done')
      await server.close()
      await indexer.stop()
      await database.cleanup()
      if (!options.dev) await dev.stop()
    },
  }
}
