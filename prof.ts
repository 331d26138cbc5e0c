import { pino } from 'pino'
import { loadConfig } from './src/config/index.js'
import { startDevnet, createMarketChain, simulateEvents } from './src/devnet/index.js'
import { toViemChain } from './src/chain/index.js'
import { createRpcClient } from './indexer/sync/rpc.js'
import { fetchLogs, placeLogs, rangeFilter } from './indexer/sync/fetch-logs.js'
import { BatchChanges } from './indexer/aggregates/changes.js'
import { applyLogs } from './indexer/handlers/index.js'
import { createDatabase, migrateToLatest } from './src/db/index.js'
import { writeBatch } from './indexer/database/write-batch.js'
const config = loadConfig({ env: {} })
const dn = await startDevnet({ dataDir: '/tmp/dn-test', chain: config.chain, logger: pino({level:'warn'}), persist: false })
const chain = createMarketChain({ rpcUrl: dn.anvil.rpcUrl, chain: toViemChain({ ...dn.chain, explorerUrl: undefined }), deployment: dn.deployment, serverKey: dn.serverKey })
const r = await simulateEvents({ chain, seed: 5, events: 100000 })
const rpc = createRpcClient({ url: dn.anvil.rpcUrl, maxResponseBytes: 400 * 2 ** 20 })
const c = dn.chain.contracts
const sources = { fixed: [c.orchestrator, c.creatorIdentity, c.tusdt] }
let t = performance.now()
const raw = await fetchLogs(rpc, sources, rangeFilter(0, Number(r.toBlock)))
console.log('fetch', raw.length, (performance.now() - t).toFixed(0), 'ms'); t = performance.now()
const placed = await placeLogs(rpc, raw)
console.log('place', (performance.now() - t).toFixed(0), 'ms', 'has blockTimestamp', !!raw[0]?.blockTimestamp); t = performance.now()
const changes = new BatchChanges()
applyLogs(placed, changes, { orchestrator: c.orchestrator, creatorIdentity: c.creatorIdentity, tusdt: c.tusdt, organizations: new Set(), products: new Set() })
console.log('apply', changes.events, (performance.now() - t).toFixed(0), 'ms'); t = performance.now()
const db = await createDatabase({ url: 'postgres://postgres@127.0.0.1:5432/haithe_prof' })
await migrateToLatest(db.db)
t = performance.now()
await db.db.transaction().execute((trx) => writeBatch(trx, dn.chain.chainId, changes))
console.log('write', (performance.now() - t).toFixed(0), 'ms')
await db.destroy(); await dn.anvil.stop()
