import { pino } from 'pino'
import { loadConfig } from './src/config/index.js'
import { startDevnet, createMarketChain, createMarketSimulator, simulateEvents } from './src/devnet/index.js'
import { toViemChain, testUSDTAbi } from './src/chain/index.js'
import { createDatabase, migrateToLatest } from './src/db/index.js'
import { createIndexer } from './indexer/index.js'
import { createMetricsRegistry } from './src/obs/index.js'
const logger = pino({ level: process.env.LL ?? 'info', base: undefined })
const config = loadConfig({ env: {} })
const dn = await startDevnet({ dataDir: '/tmp/dn-test', chain: config.chain, logger, persist: false })
const chain = createMarketChain({ rpcUrl: dn.anvil.rpcUrl, chain: toViemChain({ ...dn.chain, explorerUrl: undefined }), deployment: dn.deployment, serverKey: dn.serverKey })
const sim = await createMarketSimulator({ chain, seed: 5, weights: config.simulator.weights })
for (let i = 0; i < 80; i++) await sim.step()
console.log('before index heapMb', Math.round(process.memoryUsage().heapUsed / 2 ** 20))
await simulateEvents({ chain, seed: 5, events: Number(process.env.EVENTS ?? 20000) })
const db = await createDatabase(process.env.PG ? { url: process.env.PG } : { pgliteDir: 'memory://' })
await migrateToLatest(db.db)
const ac = new AbortController()
const indexer = createIndexer({ db: db.db, kind: db.kind, chain: { ...dn.chain, finalityDepth: 5 }, logger, metrics: createMetricsRegistry(), signal: ac.signal })
const mem = setInterval(() => console.log('heapMb', Math.round(process.memoryUsage().heapUsed / 2 ** 20), 'rssMb', Math.round(process.memoryUsage().rss / 2 ** 20), indexer.status().indexed), 500)
const run = indexer.run()
const t0 = Date.now()
while (!indexer.status().ready) { await new Promise(r => setTimeout(r, 200)); if (Date.now() - t0 > 120000) break }
clearInterval(mem)
console.log('status', indexer.status(), (Date.now() - t0) / 1000, 's')
const sim2 = await createMarketSimulator({ chain, seed: 6, weights: config.simulator.weights })
for (let i = 0; i < 10; i++) await sim2.step()
await new Promise(r => setTimeout(r, 1500))
console.log('status', indexer.status())
const orgs = await db.db.selectFrom('chain.organizations').selectAll().execute()
let bad = 0
for (const o of orgs) { const b = await chain.publicClient.readContract({ address: dn.deployment.tusdt, abi: testUSDTAbi, functionName: 'balanceOf', args: [o.address as `0x${string}`] }); if (b.toString() !== o.balance) { bad++; console.log('mismatch', o.address, o.balance, b) } }
console.log('orgs', orgs.length, 'balance mismatches', bad)
console.log(await db.db.selectFrom('chain.market_totals').selectAll().execute())
ac.abort(); await run; await db.destroy(); await dn.anvil.stop()
