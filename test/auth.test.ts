/**
 * Wallet sign-in, sessions and API keys of the gateway, over real HTTP, anvil and the database:
 * personal_sign (v1), SIWE, ERC-1271 and ERC-6492 wallets; nonces single use and short-lived;
 * tokens, sessions and keys refused once tampered with, forged, revoked or expired; and no
 * secret in the logs.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { encodeFunctionData, serializeErc6492Signature, type Abi, type Address, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { createSiweMessage } from 'viem/siwe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { haitheCreatorIdentityAbi, haitheOrchestratorAbi, type ChainWalletClient } from '../src/chain/index.js'
import { startGateway } from '../src/commands/gateway.js'
import type { Context } from '../src/context.js'
import { createMetricsRegistry, createShutdown, redactedPaths } from '../src/obs/index.js'
import { decodeLogs, devWalletKey, waitForSuccess } from './support/devchain.js'
import { eventually } from './support/eventually.js'
import { GATEWAY_KEY_INDEX, gatewayTestConfig, startTestGateway, type TestGateway } from './support/gateway.js'

const require = createRequire(import.meta.url)
const solc = require('solc') as { compile(input: string, opts: { import: (p: string) => { contents?: string; error?: string } }): string }
const here = path.dirname(fileURLToPath(import.meta.url))

interface Compiled {
  abi: Abi
  bytecode: Hex
}

/** Compiles test/fixtures/SmartWallet.sol (an ERC-1271 wallet and its CREATE2 factory). */
function compileSmartWallet(): { wallet: Compiled; factory: Compiled } {
  const source = 'test/fixtures/SmartWallet.sol'
  const input = {
    language: 'Solidity',
    sources: { [source]: { content: readFileSync(path.join(here, 'fixtures/SmartWallet.sol'), 'utf8') } },
    settings: { evmVersion: 'cancun', optimizer: { enabled: true, runs: 200 }, outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  }
  const resolve = (p: string) => {
    try {
      return { contents: readFileSync(require.resolve(p), 'utf8') }
    } catch {
      return { error: `not found: ${p}` }
    }
  }
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: resolve })) as {
    errors?: { severity: string; formattedMessage: string }[]
    contracts: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>>
  }
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'))
  const pick = (name: string): Compiled => {
    const artifact = output.contracts[source]![name]!
    return { abi: artifact.abi, bytecode: `0x${artifact.evm.bytecode.object}` }
  }
  return { wallet: pick('SmartWallet'), factory: pick('SmartWalletFactory') }
}

let gw: TestGateway
let alice: ChainWalletClient
let bob: ChainWalletClient
let carol: ChainWalletClient

beforeAll(async () => {
  gw = await startTestGateway()
  ;[alice, bob, carol] = await Promise.all([gw.dev.wallet(1), gw.dev.wallet(2), gw.dev.wallet(3)])
}, 90_000)

afterAll(async () => {
  await gw?.close()
})

const lower = (a: Address) => a.toLowerCase() as Address

async function nonceFor(address: Address): Promise<string> {
  const answer = await gw.call<{ nonce: string }>('GET', '/api/v1/auth/nonce', { query: { address } })
  expect(answer.status).toBe(200)
  return answer.body.data.nonce
}

async function login(query: Record<string, string>, body?: unknown) {
  return gw.call<{ address: string; token: string }>('POST', '/api/v1/auth/login', { query, ...(body !== undefined ? { body } : {}) })
}

/** Moves the gateway's clock by `ms` while `run` runs. */
async function withClockMoved<T>(ms: number, run: () => Promise<T>): Promise<T> {
  const original = gw.w.now
  gw.w.now = () => new Date(Date.now() + ms)
  try {
    return await run()
  } finally {
    gw.w.now = original
  }
}

describe('sign-in with personal_sign (v1)', () => {
  it('issues a UUID nonce, signs in, and the token reaches GET /v1/me', async () => {
    const address = alice.account.address
    const nonce = await nonceFor(address)
    expect(nonce).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    const signature = await alice.signMessage({ message: nonce })
    const answer = await gw.call<{ address: string; token: string }>('POST', '/api/v1/auth/login', {
      query: { address, signature }, headers: { 'user-agent': 'auth-test/1.0' },
    })
    expect(answer.status).toBe(200)
    expect(answer.body).toMatchObject({ success: true, data: { address: lower(address) } })
    const token = answer.body.data.token

    const me = await gw.call<{ address: string; registered: boolean }>('GET', '/api/v1/me', { token })
    expect(me.status).toBe(200)
    expect(me.body.data).toEqual({ address: lower(address), registered: false })

    const account = await gw.database.db.selectFrom('app.accounts').selectAll().where('address', '=', lower(address)).executeTakeFirstOrThrow()
    expect(account.last_login_at).not.toBeNull()
    const sessions = await gw.call<{ id: string; ip: string; user_agent: string; current: boolean; revoked_at: string | null }[]>('GET', '/api/v1/me/sessions', { token })
    expect(sessions.status).toBe(200)
    const current = sessions.body.data.find((s) => s.current)
    expect(current).toMatchObject({ ip: '127.0.0.1', user_agent: 'auth-test/1.0', revoked_at: null })
    expect(JSON.stringify(sessions.body.data)).not.toContain(token)
  })

  it('accepts the parameters in a JSON body, and a wallet with several outstanding nonces', async () => {
    const address = carol.account.address
    const first = await nonceFor(address)
    await nonceFor(address)
    const signature = await carol.signMessage({ message: first })
    const answer = await login({}, { address, signature })
    expect(answer.status).toBe(200)
    expect(answer.body.data.address).toBe(lower(address))
  })

  it('says registered once the wallet is a creator on chain', async () => {
    const { dev } = gw
    const d = dev.deployment
    const gateway = privateKeyToAccount(devWalletKey(GATEWAY_KEY_INDEX)).address
    const setServer = async (to: Address) =>
      waitForSuccess(dev.publicClient, await dev.server.writeContract({ address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'setServer', args: [to] }))
    // The deployer registers the creator for the test, so the gateway's own nonces stay untouched.
    await setServer(dev.server.account.address)
    try {
      const seed = await dev.publicClient.readContract({ address: d.creatorIdentity, abi: haitheCreatorIdentityAbi, functionName: 'determineNextSeed', args: [carol.account.address] })
      await waitForSuccess(dev.publicClient, await dev.server.writeContract({
        address: d.orchestrator, abi: haitheOrchestratorAbi, functionName: 'registerAsCreator', args: [carol.account.address, 'ipfs://carol', seed, 'pub:carol'],
      }))
    } finally {
      await setServer(gateway)
    }
    await gw.indexer.caughtUp()
    const token = await gw.signIn(carol)
    const me = await gw.call<{ registered: boolean }>('GET', '/api/v1/me', { token })
    expect(me.body.data.registered).toBe(true)
  })

  it('refuses a bad address or signature with 400 before looking at nonces', async () => {
    expect((await gw.call('GET', '/api/v1/auth/nonce', { query: { address: '0x1234' } })).status).toBe(400)
    expect((await gw.call('GET', '/api/v1/auth/nonce')).status).toBe(400)
    const missing = await login({ address: alice.account.address })
    expect(missing.status).toBe(400)
    expect(missing.body.message).toContain('signature')
    expect((await login({ address: alice.account.address, signature: 'hello' })).status).toBe(400)
  })
})

describe('refused sign-ins', () => {
  it('a replayed nonce: the same signature does not sign in twice', async () => {
    const address = alice.account.address
    const nonce = await nonceFor(address)
    const signature = await alice.signMessage({ message: nonce })
    expect((await login({ address, signature })).status).toBe(200)
    const replay = await login({ address, signature })
    expect(replay.status).toBe(401)
    expect(replay.body).toMatchObject({ success: false })
    expect(replay.body.message).toMatch(/no unused nonce/)
    const named = await login({ address, signature, nonce })
    expect(named.status).toBe(401)
    expect(named.body.message).toMatch(/already used/)
  })

  it('two concurrent logins with one nonce: exactly one succeeds', async () => {
    const address = bob.account.address
    const nonce = await nonceFor(address)
    const signature = await bob.signMessage({ message: nonce })
    const answers = await Promise.all([login({ address, signature, nonce }), login({ address, signature, nonce }), login({ address, signature, nonce })])
    expect(answers.map((a) => a.status).sort()).toEqual([200, 401, 401])
  })

  it('an expired nonce', async () => {
    const address = alice.account.address
    const nonce = await nonceFor(address)
    const signature = await alice.signMessage({ message: nonce })
    const late = await withClockMoved(5 * 60_000 + 1_000, () => login({ address, signature, nonce }))
    expect(late.status).toBe(401)
    expect(late.body.message).toMatch(/expired/)
    const lateV1 = await withClockMoved(5 * 60_000 + 1_000, () => login({ address, signature }))
    expect(lateV1.status).toBe(401)
    // Issuing a nonce later clears the expired ones from the table.
    await withClockMoved(5 * 60_000 + 1_000, () => nonceFor(bob.account.address))
    const left = await gw.database.db.selectFrom('app.nonces').select('nonce').where('nonce', '=', nonce).executeTakeFirst()
    expect(left).toBeUndefined()
  })

  it('a signature by another address', async () => {
    const nonce = await nonceFor(alice.account.address)
    const signature = await bob.signMessage({ message: nonce })
    const answer = await login({ address: alice.account.address, signature })
    expect(answer.status).toBe(401)
    expect(answer.body.message).toMatch(/not .*personal_sign/)
    // Bob cannot use Alice's nonce for himself either.
    const asBob = await login({ address: bob.account.address, signature, nonce })
    expect(asBob.status).toBe(401)
  })

  it('a signature of another message', async () => {
    const address = alice.account.address
    await nonceFor(address)
    const signature = await alice.signMessage({ message: randomUUID() })
    expect((await login({ address, signature })).status).toBe(401)
  })
})

describe('sign-in with Ethereum (EIP-4361)', () => {
  const host = () => new URL(gw.url).host

  async function siwe(wallet: ChainWalletClient, overrides: Partial<Parameters<typeof createSiweMessage>[0]> = {}) {
    const nonce = await nonceFor(wallet.account.address)
    const message = createSiweMessage({
      domain: host(), address: wallet.account.address, chainId: gw.chain.chainId, uri: gw.url, version: '1',
      nonce: nonce.replaceAll('-', ''), statement: 'Sign in to Haithe', issuedAt: new Date(), ...overrides,
    })
    return { message, signature: await wallet.signMessage({ message }), nonce }
  }

  it('signs in with a SIWE message in the JSON body', async () => {
    const { message, signature } = await siwe(bob)
    const answer = await login({}, { message, signature })
    expect(answer.status).toBe(200)
    expect(answer.body.data.address).toBe(lower(bob.account.address))
    const me = await gw.call<{ address: string }>('GET', '/api/v1/me', { token: answer.body.data.token })
    expect(me.body.data.address).toBe(lower(bob.account.address))
    // The message's nonce is spent.
    expect((await login({}, { message, signature })).status).toBe(401)
  })

  it('refuses another domain, another chain, an expired message, another address', async () => {
    const wrongDomain = await siwe(bob, { domain: 'evil.example' })
    const refused = await login({}, wrongDomain)
    expect(refused.status).toBe(401)
    expect(refused.body.message).toContain('evil.example')

    expect((await login({}, await siwe(bob, { chainId: 1 }))).status).toBe(401)

    const expired = await siwe(bob, { issuedAt: new Date(Date.now() - 120_000), expirationTime: new Date(Date.now() - 60_000) })
    const late = await login({}, expired)
    expect(late.status).toBe(401)
    expect(late.body.message).toMatch(/expired/)

    const early = await siwe(bob, { notBefore: new Date(Date.now() + 3_600_000) })
    expect((await login({}, early)).status).toBe(401)

    const forAlice = await siwe(bob)
    expect((await login({}, { ...forAlice, address: alice.account.address })).status).toBe(401)

    // Signed by someone else than the message's address.
    const { message } = await siwe(bob)
    expect((await login({}, { message, signature: await alice.signMessage({ message }) })).status).toBe(401)

    // A nonce we did not issue.
    const made = createSiweMessage({ domain: host(), address: bob.account.address, chainId: gw.chain.chainId, uri: gw.url, version: '1', nonce: randomBytes(16).toString('hex') })
    expect((await login({}, { message: made, signature: await bob.signMessage({ message: made }) })).status).toBe(401)

    // After all that, a correct message still works (refusals did not spend nonces).
    expect((await login({}, await siwe(bob))).status).toBe(200)
  })
})

describe('smart-contract wallets', () => {
  let contracts: { wallet: Compiled; factory: Compiled }
  let factory: Address

  beforeAll(async () => {
    contracts = compileSmartWallet()
    const hash = await gw.dev.server.deployContract({ abi: contracts.factory.abi, bytecode: contracts.factory.bytecode, args: [] })
    factory = (await waitForSuccess(gw.dev.publicClient, hash)).contractAddress!
  }, 60_000)

  it('an ERC-1271 wallet signs in with its owner\'s signature', async () => {
    const salt = `0x${'11'.repeat(32)}` as Hex
    const walletAddress = (await gw.dev.publicClient.readContract({ address: factory, abi: contracts.factory.abi, functionName: 'addressOf', args: [carol.account.address, salt] })) as Address
    await waitForSuccess(gw.dev.publicClient, await gw.dev.server.writeContract({ address: factory, abi: contracts.factory.abi, functionName: 'deploy', args: [carol.account.address, salt] }))
    expect(await gw.dev.publicClient.getCode({ address: walletAddress })).not.toBe('0x')

    const nonce = await nonceFor(walletAddress)
    const answer = await login({ address: walletAddress, signature: await carol.signMessage({ message: nonce }) })
    expect(answer.status).toBe(200)
    expect(answer.body.data.address).toBe(lower(walletAddress))
    const me = await gw.call<{ address: string }>('GET', '/api/v1/me', { token: answer.body.data.token })
    expect(me.body.data.address).toBe(lower(walletAddress))

    // Someone who does not own the wallet cannot sign for it.
    const next = await nonceFor(walletAddress)
    expect((await login({ address: walletAddress, signature: await bob.signMessage({ message: next }) })).status).toBe(401)
  })

  it('an ERC-6492 wallet signs in before it is deployed', async () => {
    const salt = `0x${'22'.repeat(32)}` as Hex
    const walletAddress = (await gw.dev.publicClient.readContract({ address: factory, abi: contracts.factory.abi, functionName: 'addressOf', args: [alice.account.address, salt] })) as Address
    expect(await gw.dev.publicClient.getCode({ address: walletAddress })).toBeUndefined()

    const nonce = await nonceFor(walletAddress)
    const signature = serializeErc6492Signature({
      address: factory,
      data: encodeFunctionData({ abi: contracts.factory.abi, functionName: 'deploy', args: [alice.account.address, salt] }),
      signature: await alice.signMessage({ message: nonce }),
    })
    const answer = await login({ address: walletAddress, signature })
    expect(answer.status).toBe(200)
    expect(answer.body.data.address).toBe(lower(walletAddress))
    // Verification ran the deployment in a call only: nothing was deployed.
    expect(await gw.dev.publicClient.getCode({ address: walletAddress })).toBeUndefined()

    const next = await nonceFor(walletAddress)
    const wrong = serializeErc6492Signature({
      address: factory,
      data: encodeFunctionData({ abi: contracts.factory.abi, functionName: 'deploy', args: [alice.account.address, salt] }),
      signature: await bob.signMessage({ message: next }),
    })
    expect((await login({ address: walletAddress, signature: wrong })).status).toBe(401)
  })
})

describe('session tokens', () => {
  const part = (token: string, i: number) => JSON.parse(Buffer.from(token.split('.')[i]!, 'base64url').toString('utf8')) as Record<string, unknown>
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

  it('refuses a tampered token', async () => {
    const token = await gw.signIn(alice)
    const [head, , sig] = token.split('.')
    const claims = { ...part(token, 1), sub: lower(bob.account.address) }
    const tampered = `${head}.${encode(claims)}.${sig}`
    const answer = await gw.call('GET', '/api/v1/me', { token: tampered })
    expect(answer.status).toBe(401)
    expect(answer.body.message).toMatch(/signature/)
    // One flipped character of the signature.
    const flipped = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1)
    expect((await gw.call('GET', '/api/v1/me', { token: flipped })).status).toBe(401)
  })

  it('refuses alg none', async () => {
    const token = await gw.signIn(alice)
    const unsigned = `${encode({ alg: 'none', typ: 'JWT' })}.${token.split('.')[1]}.`
    const answer = await gw.call('GET', '/api/v1/me', { token: unsigned })
    expect(answer.status).toBe(401)
    expect(answer.body.message).toMatch(/HS256/)
  })

  it('refuses a logged-out session, and an expired one', async () => {
    const token = await gw.signIn(alice)
    expect((await gw.call('GET', '/api/v1/me', { token })).status).toBe(200)
    expect((await gw.call('POST', '/api/v1/auth/logout', { token })).status).toBe(200)
    const after = await gw.call('GET', '/api/v1/me', { token })
    expect(after.status).toBe(401)
    expect(after.body.message).toMatch(/ended|logged out/)

    const fresh = await gw.signIn(alice)
    const late = await withClockMoved(3 * 24 * 3_600_000 + 1_000, () => gw.call('GET', '/api/v1/me', { token: fresh }))
    expect(late.status).toBe(401)
    expect(late.body.message).toMatch(/expired/)
  })

  it('a client still sending its ended token can sign in again', async () => {
    const stale = await gw.signIn(alice)
    await gw.call('POST', '/api/v1/auth/logout', { token: stale })
    const address = alice.account.address
    const nonce = await gw.call<{ nonce: string }>('GET', '/api/v1/auth/nonce', { query: { address }, token: stale })
    expect(nonce.status).toBe(200)
    const signature = await alice.signMessage({ message: nonce.body.data.nonce })
    const again = await gw.call<{ token: string }>('POST', '/api/v1/auth/login', { query: { address, signature }, token: stale })
    expect(again.status).toBe(200)
    expect((await gw.call('GET', '/api/v1/me', { token: again.body.data.token })).status).toBe(200)
    // Elsewhere the ended token is still refused.
    expect((await gw.call('GET', '/api/v1/me', { token: stale })).status).toBe(401)
  })

  it('lists and ends the wallet\'s own sessions only', async () => {
    const first = await gw.signIn(bob)
    const second = await gw.signIn(bob)
    const aliceToken = await gw.signIn(alice)
    const list = await gw.call<{ id: string; current: boolean }[]>('GET', '/api/v1/me/sessions', { token: second })
    const firstId = part(first, 1).sid as string
    expect(list.body.data.map((s) => s.id)).toContain(firstId)
    expect(list.body.data.find((s) => s.current)?.id).toBe(part(second, 1).sid)

    // Alice cannot end Bob's session, nor list it.
    expect((await gw.call('DELETE', `/api/v1/me/sessions/${firstId}`, { token: aliceToken })).status).toBe(404)
    const hers = await gw.call<{ id: string }[]>('GET', '/api/v1/me/sessions', { token: aliceToken })
    expect(hers.body.data.map((s) => s.id)).not.toContain(firstId)
    expect((await gw.call('DELETE', '/api/v1/me/sessions/not-a-uuid', { token: second })).status).toBe(400)

    expect((await gw.call('DELETE', `/api/v1/me/sessions/${firstId}`, { token: second })).status).toBe(200)
    expect((await gw.call('GET', '/api/v1/me', { token: first })).status).toBe(401)
    expect((await gw.call('GET', '/api/v1/me', { token: second })).status).toBe(200)
  })
})

describe('wallet API keys (v1 sk-…)', () => {
  it('one active key: issue, refuse a second, disable, issue again; the key acts as the wallet', async () => {
    const token = await gw.signIn(bob)
    await gw.call('POST', '/api/v1/me/api-key/disable', { token })
    expect((await gw.call<{ issued_at: number | null }>('GET', '/api/v1/me/api-key/last-issued', { token })).body.data.issued_at).toBeNull()

    const issued = await gw.call<{ api_key: string; message: string; issued_at: number }>('GET', '/api/v1/me/api-key', { token })
    expect(issued.status).toBe(200)
    const { api_key: key, message, issued_at: issuedAt } = issued.body.data
    const address = lower(bob.account.address).slice(2)
    expect(key).toMatch(new RegExp(`^sk-${address}\\.[0-9a-f-]{36}\\.[0-9a-f]{130}$`))
    expect(message).toBe(`${issuedAt}.${address}.${key.split('.')[1]}`)
    expect(Math.abs(issuedAt - Date.now() / 1000)).toBeLessThan(600)
    const last = await gw.call<{ issued_at: number }>('GET', '/api/v1/me/api-key/last-issued', { token })
    expect(last.body.data.issued_at).toBe(issuedAt)

    const stored = await gw.database.db.selectFrom('app.api_keys').selectAll().where('address', '=', lower(bob.account.address)).where('revoked_at', 'is', null).executeTakeFirstOrThrow()
    expect(stored.kind).toBe('wallet')
    expect(stored.hint).toBe(key.slice(-4))
    expect(Buffer.from(stored.key_hash).toString('utf8')).not.toContain(key)

    const me = await gw.call<{ address: string }>('GET', '/api/v1/me', { token: key })
    expect(me.status).toBe(200)
    expect(me.body.data.address).toBe(lower(bob.account.address))
    const viaHeader = await gw.call('GET', '/api/v1/me', { headers: { 'x-api-key': key } })
    expect(viaHeader.status).toBe(200)
    const used = await gw.database.db.selectFrom('app.api_keys').select('last_used_at').where('id', '=', stored.id).executeTakeFirstOrThrow()
    expect(used.last_used_at).not.toBeNull()

    const second = await gw.call('GET', '/api/v1/me/api-key', { token })
    expect(second.status).toBe(400)
    expect(second.body.message).toMatch(/already active/)

    expect((await gw.call('POST', '/api/v1/me/api-key/disable', { token })).status).toBe(200)
    const revoked = await gw.call('GET', '/api/v1/me', { token: key })
    expect(revoked.status).toBe(401)
    expect(revoked.body.message).toMatch(/disabled/)

    const again = await gw.call<{ api_key: string }>('GET', '/api/v1/me/api-key', { token })
    expect(again.status).toBe(200)
    expect(again.body.data.api_key).not.toBe(key)
    expect((await gw.call('GET', '/api/v1/me', { token: again.body.data.api_key })).status).toBe(200)
    expect((await gw.call('GET', '/api/v1/me', { token: key })).status).toBe(401)
  })

  it('refuses a forged key of the right shape, and a malformed one', async () => {
    const address = lower(alice.account.address)
    const uuid = randomUUID()
    const signedByAlice = await alice.signMessage({ message: `${Math.floor(Date.now() / 1000)}.${address.slice(2)}.${uuid}` })
    const forged = `sk-${address.slice(2)}.${uuid}.${signedByAlice.slice(2)}`
    const answer = await gw.call('GET', '/api/v1/me', { token: forged })
    expect(answer.status).toBe(401)
    expect(answer.body.message).toMatch(/not issued/)
    expect((await gw.call('GET', '/api/v1/me', { token: 'sk-nonsense' })).status).toBe(401)
    expect((await gw.call('GET', '/api/v1/me', { token: `sk-proj-${'A'.repeat(43)}` })).status).toBe(401)
  })

  it('logout with a key is refused (it is not a session)', async () => {
    const token = await gw.signIn(carol)
    await gw.call('POST', '/api/v1/me/api-key/disable', { token })
    const key = (await gw.call<{ api_key: string }>('GET', '/api/v1/me/api-key', { token })).body.data.api_key
    expect((await gw.call('POST', '/api/v1/auth/logout', { token: key })).status).toBe(400)
    await gw.call('POST', '/api/v1/me/api-key/disable', { token })
  })
})

describe('scoped project keys', () => {
  let projectId: number
  let aliceToken: string
  let bobToken: string

  beforeAll(async () => {
    // Alice owns an organization on chain; the project row stands for one made through POST /v1/projects.
    const receipt = await waitForSuccess(gw.dev.publicClient, await alice.writeContract({
      address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: [`Auth test ${randomUUID()}`],
    }))
    const [created] = decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'OrganizationCreated' })
    await gw.indexer.caughtUp()
    const project = await gw.database.db
      .insertInto('app.projects')
      .values({ uid: randomUUID(), chain_id: gw.chain.chainId, organization: lower(created!.args.organization), name: 'keys' })
      .returning('id')
      .executeTakeFirstOrThrow()
    projectId = Number(project.id)
    await gw.database.db.insertInto('app.project_members').values({ project_id: project.id, address: lower(bob.account.address), role: 'developer' }).execute()
    ;[aliceToken, bobToken] = await Promise.all([gw.signIn(alice), gw.signIn(bob)])
  }, 60_000)

  it('creates a key shown once, lists it without the key, and the key authenticates until revoked', async () => {
    const created = await gw.call<{ id: number; key: string; role: string; monthly_limit: string; hint: string; name: string }>('POST', `/api/v1/projects/${projectId}/keys`, {
      query: { role: 'developer', monthly_limit: '5000000000000000000', name: 'ci' }, token: aliceToken,
    })
    expect(created.status).toBe(201)
    const { key, id } = created.body.data
    expect(key).toMatch(/^sk-proj-[A-Za-z0-9_-]{43}$/)
    expect(created.body.data).toMatchObject({ role: 'developer', monthly_limit: '5000000000000000000', hint: key.slice(-4), name: 'ci' })

    // A scoped key authenticates (403: it may not manage the wallet's account) rather than 401.
    const used = await gw.call('GET', '/api/v1/me', { token: key })
    expect(used.status).toBe(403)

    const list = await gw.call<{ id: number; last_used_at: string | null; revoked_at: string | null }[]>('GET', `/api/v1/projects/${projectId}/keys`, { token: aliceToken })
    expect(list.status).toBe(200)
    expect(list.text).not.toContain(key)
    const listed = list.body.data.find((k) => k.id === id)
    expect(listed).toMatchObject({ revoked_at: null })
    expect(listed?.last_used_at).not.toBeNull()

    const revoked = await gw.call<{ revoked_at: string | null }>('DELETE', `/api/v1/projects/${projectId}/keys/${id}`, { token: aliceToken })
    expect(revoked.status).toBe(200)
    expect(revoked.body.data.revoked_at).not.toBeNull()
    const after = await gw.call('GET', '/api/v1/me', { token: key })
    expect(after.status).toBe(401)
    expect(after.body.message).toMatch(/revoked/)
  })

  it('a JSON body works, and bad input is 400', async () => {
    const created = await gw.call<{ monthly_limit: string | null; role: string }>('POST', `/api/v1/projects/${projectId}/keys`, { body: { role: 'viewer' }, token: aliceToken })
    expect(created.status).toBe(201)
    expect(created.body.data).toMatchObject({ role: 'viewer', monthly_limit: null })
    expect((await gw.call('POST', `/api/v1/projects/${projectId}/keys`, { query: { role: 'owner' }, token: aliceToken })).status).toBe(400)
    expect((await gw.call('POST', `/api/v1/projects/${projectId}/keys`, { query: { role: 'viewer', monthly_limit: '1.5' }, token: aliceToken })).status).toBe(400)
    expect((await gw.call('DELETE', `/api/v1/projects/${projectId}/keys/999999`, { token: aliceToken })).status).toBe(404)
  })

  it('only project admins manage keys', async () => {
    expect((await gw.call('POST', `/api/v1/projects/${projectId}/keys`, { query: { role: 'viewer' }, token: bobToken })).status).toBe(403)
    expect((await gw.call('GET', `/api/v1/projects/${projectId}/keys`, { token: bobToken })).status).toBe(403)
    const carolToken = await gw.signIn(carol)
    expect((await gw.call('GET', `/api/v1/projects/${projectId}/keys`, { token: carolToken })).status).toBe(403)
    expect((await gw.call('GET', '/api/v1/projects/999999/keys', { token: carolToken })).status).toBe(404)
    expect((await gw.call('GET', `/api/v1/projects/${projectId}/keys`)).status).toBe(401)
  })

  it('a key dies with its project', async () => {
    const created = await gw.call<{ key: string }>('POST', `/api/v1/projects/${projectId}/keys`, { query: { role: 'admin' }, token: aliceToken })
    const key = created.body.data.key
    expect((await gw.call('GET', '/api/v1/me', { token: key })).status).toBe(403)
    // Deleted behind this gateway's back (another replica): refused once its call cache expires (a second).
    await gw.database.db.updateTable('app.projects').set({ deleted_at: new Date() }).where('id', '=', String(projectId)).execute()
    try {
      await eventually(() => gw.call('GET', '/api/v1/me', { token: key }), (a) => a.status === 401, 'the refused key')
    } finally {
      await gw.database.db.updateTable('app.projects').set({ deleted_at: null }).where('id', '=', String(projectId)).execute()
    }
  })

  it('a key dies when its issuer no longer administers the project', async () => {
    await gw.database.db.updateTable('app.project_members').set({ role: 'admin' }).where('project_id', '=', String(projectId)).where('address', '=', lower(bob.account.address)).execute()
    const created = await gw.call<{ key: string }>('POST', `/api/v1/projects/${projectId}/keys`, { query: { role: 'viewer' }, token: bobToken })
    expect(created.status).toBe(201)
    expect((await gw.call('GET', '/api/v1/me', { token: created.body.data.key })).status).toBe(403)
    await gw.database.db.updateTable('app.project_members').set({ role: 'developer' }).where('project_id', '=', String(projectId)).where('address', '=', lower(bob.account.address)).execute()
    const after = await eventually(() => gw.call('GET', '/api/v1/me', { token: created.body.data.key }), (a) => a.status === 401, 'the refused key')
    expect(after.body.message).toMatch(/no longer administers/)
  })

  it('refuses an Idempotency-Key where the answer carries a secret', async () => {
    const answer = await gw.call('POST', `/api/v1/projects/${projectId}/keys`, { query: { role: 'viewer' }, token: aliceToken, headers: { 'idempotency-key': randomUUID() } })
    expect(answer.status).toBe(400)
    const stored = await gw.database.db.selectFrom('app.idempotent_requests').select('body').execute()
    expect(JSON.stringify(stored)).not.toContain('sk-proj-')
  })
})

describe('logs', () => {
  it('carry no key, token, signature or nonce (a second gateway on the same chain and database, logging at debug)', async () => {
    const lines: string[] = []
    const logger = pino({ level: 'debug', redact: { paths: redactedPaths, censor: '[redacted]' } }, { write: (line: string) => void lines.push(line) })
    const base = gatewayTestConfig({ log: { level: 'debug', format: 'json' } })
    // This gateway also accepts SIWE messages for the web app's domain.
    const config = { ...base, gateway: { ...base.gateway, siweDomains: ['app.haithe.example'] } }
    const ctx: Context = { config, logger, metrics: createMetricsRegistry(), shutdown: createShutdown(logger) }
    const { server } = startGateway(ctx, gw.database, gw.chain, { privateKey: devWalletKey(GATEWAY_KEY_INDEX), jwtSecret: gw.w.jwtSecret })
    const { port } = await server.listen('127.0.0.1', 0)
    const url = `http://127.0.0.1:${port}`
    const secrets: string[] = []
    const call = async (method: string, route: string, options: { query?: Record<string, string>; body?: unknown; token?: string } = {}) => {
      const target = new URL(route, url)
      for (const [k, v] of Object.entries(options.query ?? {})) target.searchParams.set(k, v)
      const headers: Record<string, string> = {}
      if (options.token) headers.authorization = `Bearer ${options.token}`
      if (options.body !== undefined) headers['content-type'] = 'application/json'
      const response = await fetch(target, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) })
      return { status: response.status, body: (await response.json()) as { data: Record<string, string> } }
    }
    try {
      const address = alice.account.address
      const nonce = (await call('GET', '/api/v1/auth/nonce', { query: { address } })).body.data.nonce!
      const signature = await alice.signMessage({ message: nonce })
      secrets.push(nonce, signature)
      const wrong = await bob.signMessage({ message: nonce })
      secrets.push(wrong)
      expect((await call('POST', '/api/v1/auth/login', { query: { address, signature: wrong } })).status).toBe(401)
      const token = (await call('POST', '/api/v1/auth/login', { query: { address, signature } })).body.data.token!
      secrets.push(token)
      expect((await call('GET', '/api/v1/me', { token })).status).toBe(200)
      expect((await call('GET', '/api/v1/me', { token: `${token}x` })).status).toBe(401)

      const siweNonce = (await call('GET', '/api/v1/auth/nonce', { query: { address } })).body.data.nonce!.replaceAll('-', '')
      const message = createSiweMessage({ domain: 'app.haithe.example', address, chainId: gw.chain.chainId, uri: 'https://app.haithe.example', version: '1', nonce: siweNonce })
      const siweSignature = await alice.signMessage({ message })
      secrets.push(siweNonce, siweSignature)
      const siweLogin = await call('POST', '/api/v1/auth/login', { body: { message, signature: siweSignature } })
      expect(siweLogin.status).toBe(200)
      const siweToken = siweLogin.body.data.token!
      secrets.push(siweToken)

      await call('POST', '/api/v1/me/api-key/disable', { token })
      const key = (await call('GET', '/api/v1/me/api-key', { token })).body.data.api_key!
      secrets.push(key, key.split('.')[2]!)
      expect((await call('GET', '/api/v1/me', { token: key })).status).toBe(200)
      await call('POST', '/api/v1/me/api-key/disable', { token })
      expect((await call('GET', '/api/v1/me', { token: key })).status).toBe(401)
      expect((await call('POST', '/api/v1/auth/logout', { token: siweToken })).status).toBe(200)
      expect((await call('GET', '/api/v1/me', { token: siweToken })).status).toBe(401)
    } finally {
      await ctx.shutdown.run('test done')
      await server.close()
    }
    const log = lines.join('')
    expect(lines.filter((l) => l.includes('"msg":"request"')).length).toBeGreaterThan(10)
    expect(log).toContain('request refused')
    for (const secret of secrets) expect(log).not.toContain(secret)
    expect(log).not.toMatch(/sk-[0-9a-f]{40}\./)
    expect(log).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/)
  })
})
