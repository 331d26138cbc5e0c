/**
 * The transaction outbox on anvil and the real database: idempotent enqueue, a transfer mined
 * and confirmed, a revert at estimation recorded as a failure, a stuck transaction replaced
 * with a higher fee, and GET /api/v1/tx/{id} for the wallet it was sent for only.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeFunctionData, parseEther, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { pino } from 'pino'
import { createChainPublicClient, createChainWalletClient, testUSDTAbi } from '../src/chain/index.js'
import { createMetricsRegistry } from '../src/obs/index.js'
import { createSession } from '../src/write/auth/sessions.js'
import { createOutbox, type OutboxEntry } from '../src/write/index.js'
import type { LogLine } from './support/cli.js'
import { devWalletKey } from './support/devchain.js'
import { GATEWAY_KEY_INDEX, startTestGateway, type TestGateway } from './support/gateway.js'
import { startFaultyRpcProxy } from './support/rpc-proxy.js'

let gw: TestGateway
let tusdt: Address
let keyCounter = 0

beforeAll(async () => {
  gw = await startTestGateway({
    config: { gateway: { host: '127.0.0.1', port: 0, confirmations: 2, stuckAfterMs: 1_500, indexWaitMs: 10_000 } },
  })
  tusdt = gw.dev.deployment.tusdt
}, 90_000)

afterAll(async () => {
  await gw?.close()
})

const freshAddress = (): Address => privateKeyToAccount(generatePrivateKey()).address
const transfer = (to: Address, amount: bigint): Hex => encodeFunctionData({ abi: testUSDTAbi, functionName: 'transfer', args: [to, amount] })
const uniqueKey = (label: string) => `outbox-test:${label}:${process.pid}:${++keyCounter}`
const balanceOf = (who: Address) => gw.dev.publicClient.readContract({ address: tusdt, abi: testUSDTAbi, functionName: 'balanceOf', args: [who] })
const serverNonce = () => gw.dev.publicClient.getTransactionCount({ address: gw.w.account.address })

/** Waits for the entry to settle, mining a block whenever it is mined but not yet confirmed; returns the statuses it passed. */
async function settle(id: string): Promise<{ entry: OutboxEntry; seen: string[] }> {
  const seen: string[] = []
  for (let round = 0; round < 600; round++) {
    const entry = (await gw.w.outbox.get(id))!
    if (seen.at(-1) !== entry.status) seen.push(entry.status)
    if (entry.status === 'confirmed' || entry.status === 'failed') return { entry, seen }
    if (entry.status === 'mined') await gw.dev.testClient.mine({ blocks: 1 })
    await sleep(50)
  }
  throw new Error(`outbox entry ${id} did not settle; last statuses ${seen.join(' → ')}`)
}

async function attemptsOf(id: string) {
  return gw.database.db.selectFrom('app.tx_attempts').selectAll().where('outbox_id', '=', id).orderBy('created_at').execute()
}

/** The attempts of `id` that anvil has a receipt for. */
async function minedAttempts(id: string) {
  const mined: Hex[] = []
  for (const attempt of await attemptsOf(id)) {
    const receipt = await gw.dev.publicClient.getTransactionReceipt({ hash: attempt.tx_hash as Hex }).catch(() => undefined)
    if (receipt) mined.push(attempt.tx_hash as Hex)
  }
  return mined
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  let total = 0
  for (const line of (await gw.w.metrics.metrics()).split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line)
    if (!match || match[1] !== name) continue
    const set = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([k, v]) => set[k] === v)) total += Number(match[3])
  }
  return total
}

describe('enqueue', () => {
  it('is idempotent: the same key twice (even at once) is one row and one mined transaction', async () => {
    const to = freshAddress()
    const request = { idempotencyKey: uniqueKey('idempotent'), kind: 'test-transfer', to: tusdt, data: transfer(to, 7n) }
    const [first, second] = await Promise.all([gw.w.outbox.enqueue(request), gw.w.outbox.enqueue(request)])
    expect(second.id).toBe(first.id)
    // Same key, other content: still the first row.
    const third = await gw.w.outbox.enqueue({ ...request, data: transfer(to, 999n) })
    expect(third.id).toBe(first.id)

    const { entry } = await settle(first.id)
    expect(entry.status).toBe('confirmed')
    const again = await gw.w.outbox.enqueue(request)
    expect(again).toMatchObject({ id: first.id, status: 'confirmed' })
    const rows = await gw.database.db.selectFrom('app.tx_outbox').select('id').where('idempotency_key', '=', request.idempotencyKey).execute()
    expect(rows).toHaveLength(1)
    expect(await minedAttempts(first.id)).toEqual([entry.txHash])
    expect(await balanceOf(to)).toBe(7n)
  })

  it('inside a transaction commits with it: rolled back, nothing is sent', async () => {
    const to = freshAddress()
    const key = uniqueKey('rolled-back')
    await expect(
      gw.database.db.transaction().execute(async (trx) => {
        await gw.w.outbox.enqueue({ idempotencyKey: key, kind: 'test-transfer', to: tusdt, data: transfer(to, 3n) }, trx)
        throw new Error('the caller fails after enqueueing')
      }),
    ).rejects.toThrow('the caller fails')
    const committed = await gw.database.db.transaction().execute((trx) =>
      gw.w.outbox.enqueue({ idempotencyKey: uniqueKey('committed'), kind: 'test-transfer', to: tusdt, data: transfer(to, 4n) }, trx),
    )
    expect((await settle(committed.id)).entry.status).toBe('confirmed')
    expect(await gw.database.db.selectFrom('app.tx_outbox').select('id').where('idempotency_key', '=', key).execute()).toEqual([])
    expect(await balanceOf(to)).toBe(4n)
  })
})

describe('signing', () => {
  it('sends a tUSDT transfer: mined, then confirmed after the configured confirmations, its effect on chain', async () => {
    const to = freshAddress()
    const amount = parseEther('12.5')
    const nonceBefore = await serverNonce()
    const confirmedBefore = await metric('outbox_transactions_total', { kind: 'test-transfer', outcome: 'confirmed' })
    const queued = await gw.w.outbox.enqueue({ idempotencyKey: uniqueKey('transfer'), kind: 'test-transfer', to: tusdt, data: transfer(to, amount) })
    expect(queued).toMatchObject({ status: 'queued', nonce: null, txHash: null, attempts: 0 })

    const { entry, seen } = await settle(queued.id)
    expect(entry.status).toBe('confirmed')
    // confirmations = 2: it was mined one block before it was confirmed.
    expect(seen.indexOf('mined')).toBeGreaterThanOrEqual(0)
    expect(seen.indexOf('mined')).toBeLessThan(seen.indexOf('confirmed'))
    expect(entry).toMatchObject({ nonce: nonceBefore, attempts: 1, error: null })

    const receipt = await gw.dev.publicClient.getTransactionReceipt({ hash: entry.txHash! })
    expect(receipt).toMatchObject({ status: 'success', from: gw.w.account.address.toLowerCase(), to: tusdt.toLowerCase() })
    expect(Number(receipt.blockNumber)).toBe(entry.blockNumber)
    expect(await balanceOf(to)).toBe(amount)
    expect(await serverNonce()).toBe(nonceBefore + 1)
    expect(await metric('outbox_transactions_total', { kind: 'test-transfer', outcome: 'confirmed' })).toBe(confirmedBefore + 1)
  })

  it('records a transaction that reverts at gas estimation as failed with its reason, using no nonce', async () => {
    const nonceBefore = await serverNonce()
    const failedBefore = await metric('outbox_transactions_total', { kind: 'test-transfer', outcome: 'failed' })
    const tooMuch = parseEther('1000000000000')
    const queued = await gw.w.outbox.enqueue({ idempotencyKey: uniqueKey('reverts'), kind: 'test-transfer', to: tusdt, data: transfer(freshAddress(), tooMuch) })
    const { entry } = await settle(queued.id)
    expect(entry).toMatchObject({ status: 'failed', nonce: null, txHash: null, attempts: 0 })
    expect(entry.error).toMatch(/reverts at gas estimation: ERC20InsufficientBalance\(0x[0-9a-fA-F]{40}, \d+, 1000000000000000000000000000000\)/)
    expect(await attemptsOf(queued.id)).toEqual([])
    // The next transaction takes the nonce the failed one did not use.
    const next = await gw.w.outbox.enqueue({ idempotencyKey: uniqueKey('after-revert'), kind: 'test-transfer', to: tusdt, data: transfer(freshAddress(), 1n) })
    expect((await settle(next.id)).entry).toMatchObject({ status: 'confirmed', nonce: nonceBefore })
    expect(await metric('outbox_transactions_total', { kind: 'test-transfer', outcome: 'failed' })).toBe(failedBefore + 1)
  })

  it('replaces a stuck transaction with the same nonce and ≥12.5% higher fees; exactly one attempt is mined', async () => {
    const to = freshAddress()
    const replacementsBefore = await metric('outbox_replacements_total')
    let id: string
    await gw.dev.testClient.setAutomine(false)
    try {
      id = (await gw.w.outbox.enqueue({ idempotencyKey: uniqueKey('stuck'), kind: 'test-transfer', to: tusdt, data: transfer(to, 5n) })).id
      for (let round = 0; ; round++) {
        const entry = (await gw.w.outbox.get(id))!
        if (entry.attempts >= 2) break
        if (round > 400) throw new Error(`not replaced: ${JSON.stringify(entry)}`)
        await sleep(50)
      }
    } finally {
      await gw.dev.testClient.setAutomine(true)
    }
    const attempts = await attemptsOf(id)
    const [first, second] = attempts
    expect(BigInt(second!.max_fee_per_gas) * 8n).toBeGreaterThanOrEqual(BigInt(first!.max_fee_per_gas) * 9n)
    expect(BigInt(second!.max_priority_fee_per_gas) * 8n).toBeGreaterThanOrEqual(BigInt(first!.max_priority_fee_per_gas) * 9n)

    await gw.dev.testClient.mine({ blocks: 1 })
    const { entry } = await settle(id)
    expect(entry.status).toBe('confirmed')
    const mined = await minedAttempts(id)
    expect(mined).toHaveLength(1)
    expect(mined[0]).toBe(entry.txHash)
    expect(mined[0]).not.toBe(first!.tx_hash)
    expect(await balanceOf(to)).toBe(5n)
    expect(await metric('outbox_replacements_total')).toBeGreaterThanOrEqual(replacementsBefore + 1)
  })
})

describe('trouble', () => {
  it('sends again with a new nonce when another transaction signed with the same key used its nonce', async () => {
    const to = freshAddress()
    const sameKey = createChainWalletClient(gw.dev.anvil.rpcUrl, gw.dev.chain, devWalletKey(GATEWAY_KEY_INDEX))
    let id: string
    let usedNonce: number
    let firstHash: Hex
    await gw.dev.testClient.setAutomine(false)
    try {
      id = (await gw.w.outbox.enqueue({ idempotencyKey: uniqueKey('nonce-taken'), kind: 'test-transfer', to: tusdt, data: transfer(to, 11n) })).id
      for (let round = 0; ; round++) {
        const entry = (await gw.w.outbox.get(id))!
        const inPool = entry.txHash ? await gw.dev.publicClient.getTransaction({ hash: entry.txHash }).catch(() => undefined) : undefined
        if (inPool) {
          usedNonce = entry.nonce!
          firstHash = entry.txHash!
          break
        }
        if (round > 400) throw new Error(`never sent: ${JSON.stringify(entry)}`)
        await sleep(50)
      }
      // Another program with the server's key (haithe dev's market simulator) outbids it for that nonce.
      const fees = await gw.dev.publicClient.estimateFeesPerGas()
      await sameKey.sendTransaction({ to: freshAddress(), value: 1n, nonce: usedNonce, gas: 21_000n, maxFeePerGas: fees.maxFeePerGas * 10n, maxPriorityFeePerGas: fees.maxPriorityFeePerGas * 10n })
      await gw.dev.testClient.mine({ blocks: 1 })
    } finally {
      await gw.dev.testClient.setAutomine(true)
    }
    const { entry } = await settle(id)
    expect(entry.status).toBe('confirmed')
    expect(entry.nonce).toBeGreaterThan(usedNonce)
    expect(entry.txHash).not.toBe(firstHash)
    expect(await minedAttempts(id)).toEqual([entry.txHash])
    expect(await balanceOf(to)).toBe(11n)
  })

  it('retries through an RPC outage, logging it once, then sends; stops when its signal aborts', async () => {
    const proxy = await startFaultyRpcProxy({ target: gw.dev.anvil.rpcUrl })
    const account = privateKeyToAccount(devWalletKey(903))
    await gw.dev.testClient.setBalance({ address: account.address, value: parseEther('10') })
    await gw.fund(account.address, 1_000n)
    const lines: LogLine[] = []
    const outbox = createOutbox({
      db: gw.database.db, chain: { ...gw.chain, rpcUrl: proxy.url }, publicClient: createChainPublicClient(proxy.url, gw.dev.chain), account,
      confirmations: 1, stuckAfterMs: 60_000, metrics: createMetricsRegistry(),
      logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) }),
    })
    const controller = new AbortController()
    let running: Promise<void> | undefined
    try {
      proxy.setFaults({ down: true })
      running = outbox.run(controller.signal)
      const to = freshAddress()
      const queued = await outbox.enqueue({ idempotencyKey: uniqueKey('outage'), kind: 'test-transfer', to: tusdt, data: transfer(to, 13n) })
      // Several failed rounds (each is a few requests: viem retries too).
      while ((proxy.stats.injected.down ?? 0) < 8) await sleep(50)
      expect((await outbox.get(queued.id))!.status).toBe('queued')
      expect(lines.filter((line) => /failed; retrying/.test(String(line.msg)))).toHaveLength(1)

      proxy.setFaults({})
      const settled = await outbox.settled(queued.id, 60_000)
      expect(settled.status).toBe('confirmed')
      expect(await balanceOf(to)).toBe(13n)
      expect(lines.some((line) => line.msg === 'outbox: working again')).toBe(true)
    } finally {
      controller.abort()
      await running
      await proxy.stop()
    }
  })
})

describe('signer leader', () => {
  // Embedded PGlite belongs to one process, which always signs: the lock matters on PostgreSQL.
  it.skipIf(!process.env.DATABASE_URL)('signs in one process at a time: a standby waits and takes over when the leader stops', async () => {
    const account = privateKeyToAccount(devWalletKey(904))
    await gw.dev.testClient.setBalance({ address: account.address, value: parseEther('10') })
    await gw.fund(account.address, 1_000n)
    const signer = () => {
      const lines: LogLine[] = []
      const outbox = createOutbox({
        db: gw.database.db, chain: gw.chain, publicClient: gw.dev.publicClient, account, confirmations: 1, stuckAfterMs: 60_000,
        metrics: createMetricsRegistry(), logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) }),
      })
      const controller = new AbortController()
      return { outbox, lines, controller, running: outbox.run(controller.signal), said: (msg: RegExp) => lines.some((line) => msg.test(String(line.msg))) }
    }
    const until = async (what: string, condition: () => boolean) => {
      for (let round = 0; !condition(); round++) {
        if (round > 600) throw new Error(`timed out waiting for ${what}`)
        await sleep(50)
      }
    }
    const leader = signer()
    await until('the first signer to lead', () => leader.said(/^outbox: signing/))
    const standby = signer()
    try {
      await until('the second signer to wait', () => standby.said(/standby/))
      const first = await leader.outbox.enqueue({ idempotencyKey: uniqueKey('leader'), kind: 'test-transfer', to: tusdt, data: transfer(freshAddress(), 1n) })
      expect((await standby.outbox.settled(first.id, 30_000)).status).toBe('confirmed')
      expect(leader.said(/^outbox: sent$/)).toBe(true)
      expect(standby.said(/^outbox: sent/)).toBe(false)

      leader.controller.abort()
      await leader.running
      await until('the standby to take over', () => standby.said(/^outbox: signing/))
      const second = await standby.outbox.enqueue({ idempotencyKey: uniqueKey('standby'), kind: 'test-transfer', to: tusdt, data: transfer(freshAddress(), 2n) })
      expect((await standby.outbox.settled(second.id, 30_000)).status).toBe('confirmed')
      expect(standby.said(/^outbox: sent$/)).toBe(true)
    } finally {
      leader.controller.abort()
      standby.controller.abort()
      await Promise.all([leader.running, standby.running])
    }
  })
})

describe('GET /api/v1/tx/{id}', () => {
  it('answers the status to the wallet it was sent for; another wallet gets 404, no session 401', async () => {
    const alice = freshAddress()
    const bob = freshAddress()
    const aliceToken = (await createSession(gw.w, alice, {})).token
    const bobToken = (await createSession(gw.w, bob, {})).token
    const queued = await gw.w.outbox.enqueue({
      idempotencyKey: uniqueKey('route'), kind: 'test-transfer', to: tusdt, data: transfer(freshAddress(), 9n), requestedBy: alice,
    })
    const { entry } = await settle(queued.id)

    const answer = await gw.call<Record<string, unknown>>('GET', `/api/v1/tx/${queued.id}`, { token: aliceToken })
    expect(answer.status).toBe(200)
    expect(answer.body.success).toBe(true)
    expect(answer.body.data).toEqual({
      id: Number(queued.id),
      kind: 'test-transfer',
      status: 'confirmed',
      tx_hash: entry.txHash,
      nonce: entry.nonce,
      block_number: entry.blockNumber,
      attempts: 1,
      error: null,
      created_at: entry.createdAt.toISOString(),
      updated_at: entry.updatedAt.toISOString(),
    })

    expect((await gw.call('GET', `/api/v1/tx/${queued.id}`, { token: bobToken })).status).toBe(404)
    expect((await gw.call('GET', `/api/v1/tx/${queued.id}`)).status).toBe(401)
    expect((await gw.call('GET', '/api/v1/tx/99999999', { token: aliceToken })).status).toBe(404)
    const bad = await gw.call('GET', '/api/v1/tx/abc', { token: aliceToken })
    expect(bad.status).toBe(400)
    expect(bad.body.message).toMatch(/id/)
  })
})
