/**
 * The outbox survives SIGKILL: `haithe gateway` runs as a child process signing 100 tUSDT
 * transfers (distinct amounts to 100 fresh addresses) on anvil mining a block every 3 s, and is
 * killed at random moments while they are in flight, then restarted. At the end, on anvil,
 * every recipient holds exactly its amount, the server's nonce advanced by exactly 100, and every
 * outbox row is confirmed with exactly one of its attempts mined: none lost, none duplicated.
 *
 * On PostgreSQL, transactions are also enqueued while the gateway runs; embedded PGlite belongs
 * to one process, so there all 100 are enqueued before the first start.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { encodeFunctionData, parseEther, parseUnits, type Address, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { testUSDTAbi } from '../src/chain/index.js'
import { loadConfig } from '../src/config/index.js'
import { migrateToLatest, type Database } from '../src/db/index.js'
import { createRandom } from '../src/devnet/index.js'
import { createMetricsRegistry } from '../src/obs/index.js'
import { createSession } from '../src/write/auth/sessions.js'
import { createOutbox } from '../src/write/index.js'
import { stopAllHaithe } from './support/cli.js'
import { devChainConfig, devWalletKey, startDevChain, waitForSuccess, type DevChain } from './support/devchain.js'
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.js'
import { createChildDatabase, writeConfigFile, type ChildDatabase } from './support/indexer-process.js'
import { pino } from 'pino'

const TRANSACTIONS = 100
const KILLS = 5
const SEED = Number(process.env.OUTBOX_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))

let dev: DevChain
let database: ChildDatabase
let configFile: { file: string; cleanup(): Promise<void> }
const gatewayKey: Hex = devWalletKey(901)
const gatewayAddress = privateKeyToAccount(gatewayKey).address
const jwtSecret = randomBytes(32).toString('hex')
const children: GatewayProcess[] = []

beforeAll(async () => {
  dev = await startDevChain()
  // The child signs on config/chains/devnet.json's addresses: they must be this chain's.
  const devnet = loadConfig({ env: {}, chain: 'devnet' }).chain.contracts
  expect(dev.deployment.tusdt.toLowerCase()).toBe(devnet.tusdt)
  await dev.testClient.setBalance({ address: gatewayAddress, value: parseEther('1000') })
  await waitForSuccess(dev.publicClient, await dev.server.writeContract({ address: dev.deployment.tusdt, abi: testUSDTAbi, functionName: 'transfer', args: [gatewayAddress, parseEther('1000000')] }))
  // A block every 3 s: transactions stay in flight (sent, unmined) across kills and restarts, and
  // some outlive stuckAfterMs and are replaced.
  await dev.testClient.setIntervalMining({ interval: 3 })
  database = await createChildDatabase()
  await database.read((db) => migrateToLatest(db))
  configFile = await writeConfigFile({
    gateway: { confirmations: 2, stuckAfterMs: 4_000 },
    api: { rateLimit: { anonymousPerMinute: 1_000_000, identifiedPerMinute: 1_000_000 } },
  })
}, 60_000)

afterAll(async () => {
  await stopAllHaithe()
  await database?.cleanup().catch(() => {})
  await configFile?.cleanup()
  await dev?.stop()
})

interface Transfer {
  key: string
  to: Address
  amount: bigint
}

/** Enqueues transfers as a route of the gateway would (its own outbox on the same database). */
async function enqueue(db: Kysely<Database>, transfers: Transfer[], requestedBy: Address): Promise<string[]> {
  const outbox = createOutbox({
    db, chain: devChainConfig(dev), publicClient: dev.publicClient, account: privateKeyToAccount(gatewayKey), confirmations: 2, stuckAfterMs: 4_000,
    logger: pino({ level: 'silent' }), metrics: createMetricsRegistry(),
  })
  const ids: string[] = []
  for (const transfer of transfers) {
    const data = encodeFunctionData({ abi: testUSDTAbi, functionName: 'transfer', args: [transfer.to, transfer.amount] })
    ids.push((await outbox.enqueue({ idempotencyKey: transfer.key, kind: 'crash-test', to: dev.deployment.tusdt, data, requestedBy })).id)
  }
  return ids
}

const sentLines = (child: GatewayProcess) => child.proc.logs().filter((line) => line.msg === 'outbox: sent').length

it(`mines each of ${TRANSACTIONS} transactions exactly once through ${KILLS} SIGKILLs of the gateway (seed ${SEED})`, async () => {
  const random = createRandom(SEED)
  const requester = privateKeyToAccount(devWalletKey(902)).address
  const transfers: Transfer[] = Array.from({ length: TRANSACTIONS }, (_, i) => ({
    key: `crash-test:${SEED}:${i}`,
    to: privateKeyToAccount(devWalletKey(5_000 + i)).address,
    amount: parseUnits(String(i + 1), 18) + BigInt(i),
  }))
  const nonceBefore = await dev.publicClient.getTransactionCount({ address: gatewayAddress })
  const token = (await database.read((db) => createSession({ db, jwtSecret, now: () => new Date() }, requester, {}))).token

  // 25 before the first start, 15 more each round: on PostgreSQL while the gateway runs, on
  // PGlite (one process at a time) while it is down.
  const ids = await database.read((db) => enqueue(db, transfers.slice(0, 25), requester))
  let next = 25
  const enqueueMore = async () => {
    const chunk = transfers.slice(next, next + 15)
    next += chunk.length
    if (chunk.length > 0) ids.push(...(await database.read((db) => enqueue(db, chunk, requester))))
  }
  const start = () => {
    const child = startGatewayProcess({ rpcUrl: dev.anvil.rpcUrl, database, privateKey: gatewayKey, jwtSecret, configFile: configFile.file })
    children.push(child)
    return child
  }
  /** What a kill left behind, read from the database while no gateway runs. */
  const atKills: string[] = []
  const inFlight = () =>
    database.read(async (db) => {
      const rows = await db.selectFrom('app.tx_outbox').select(['status', (eb) => eb.fn.countAll<string>().as('n')]).groupBy('status').execute()
      const unsent = await db.selectFrom('app.tx_attempts').select((eb) => eb.fn.countAll<string>().as('n')).where('broadcast_at', 'is', null).executeTakeFirstOrThrow()
      return rows.map((row) => `${row.status} ${row.n}`).sort().join(', ') + `; attempts not known sent ${unsent.n}`
    })

  for (let kill = 0; kill < KILLS; kill++) {
    if (database.kind === 'pglite') await enqueueMore()
    const child = start()
    if (database.kind === 'postgres') await enqueueMore()
    await child.listening
    // A random moment: in a burst of signing (after 1 to 15 more sends, plus up to 200 ms), or
    // anywhere in the first 2 s (re-sending, following receipts, confirming).
    if (random.chance(0.6)) {
      const sends = random.int(1, 15)
      const deadline = Date.now() + 5_000
      while (sentLines(child) < sends && Date.now() < deadline && !child.proc.hasExited()) await sleep(5)
      await sleep(random.int(0, 200))
    } else {
      await sleep(random.int(0, 2_000))
    }
    expect(child.proc.hasExited(), `the gateway exited by itself: ${child.proc.stderr().slice(-2000)}`).toBe(false)
    await child.proc.kill()
    atKills.push(await inFlight())
  }
  if (next < TRANSACTIONS) ids.push(...(await database.read((db) => enqueue(db, transfers.slice(next), requester))))
  expect(new Set(ids).size).toBe(TRANSACTIONS)

  // The last start runs until every transaction is confirmed, as GET /api/v1/tx/{id} says.
  const last = start()
  await last.listening
  const unsettled = new Set(ids)
  const deadline = Date.now() + 60_000
  while (unsettled.size > 0) {
    for (const id of [...unsettled]) {
      const answer = await last.call<{ data: { status: string } }>('GET', `/api/v1/tx/${id}`, token)
      if (answer.status === 200 && answer.body?.data.status === 'confirmed') unsettled.delete(id)
      else if (answer.body?.data.status === 'failed') throw new Error(`transaction ${id} failed: ${JSON.stringify(answer.body)}`)
    }
    if (unsettled.size === 0) break
    if (Date.now() > deadline) throw new Error(`${unsettled.size} transactions not confirmed in time; gateway log: ${last.proc.stdout().slice(-3000)}`)
    await sleep(500)
  }
  await last.proc.kill()

  // On anvil: each recipient got its amount exactly once, and nothing else was sent.
  for (const transfer of transfers) {
    const balance = await dev.publicClient.readContract({ address: dev.deployment.tusdt, abi: testUSDTAbi, functionName: 'balanceOf', args: [transfer.to] })
    expect(balance, `balance of ${transfer.to}`).toBe(transfer.amount)
  }
  expect(await dev.publicClient.getTransactionCount({ address: gatewayAddress })).toBe(nonceBefore + TRANSACTIONS)

  // In the outbox: every row confirmed, exactly one of its attempts mined (the one it names).
  const { rows, attempts } = await database.read(async (db) => ({
    rows: await db.selectFrom('app.tx_outbox').selectAll().where('kind', '=', 'crash-test').execute(),
    attempts: await db.selectFrom('app.tx_attempts').select(['tx_hash', 'outbox_id', 'raw']).execute(),
  }))
  expect(rows).toHaveLength(TRANSACTIONS)
  expect(rows.filter((row) => row.status !== 'confirmed')).toEqual([])
  const minedBy = new Map<string, string[]>()
  for (const attempt of attempts) {
    const receipt = await dev.publicClient.getTransactionReceipt({ hash: attempt.tx_hash as Hex }).catch(() => undefined)
    if (receipt) minedBy.set(String(attempt.outbox_id), [...(minedBy.get(String(attempt.outbox_id)) ?? []), attempt.tx_hash])
  }
  for (const row of rows) expect(minedBy.get(row.id), `mined attempts of outbox row ${row.id}`).toEqual([row.tx_hash])
  expect(new Set(rows.map((row) => row.nonce)).size).toBe(TRANSACTIONS)

  // The logs never carry a signed transaction.
  const output = children.map((child) => child.proc.stdout() + child.proc.stderr()).join('\n')
  for (const attempt of attempts) expect(output.includes(attempt.raw.slice(2, 200))).toBe(false)
  const count = (child: GatewayProcess, prefix: string) => child.proc.logs().filter((line) => String(line.msg).startsWith(prefix)).length
  console.info(`outbox crash test (seed ${SEED}, ${database.kind}): ${attempts.length} attempts for ${TRANSACTIONS} transactions; at the kills: ${atKills.map((k) => `[${k}]`).join(' ')}; per run ` +
    children.map((child) => `[sent ${count(child, 'outbox: sent')}, of them again ${count(child, 'outbox: sent again')}, replaced ${count(child, 'outbox: stuck')}, ` +
      `confirmed ${count(child, 'outbox: confirmed')}]`).join(' '))
}, 150_000)
