import { ANVIL_DEPLOYER_KEY } from '../../src/chain/index.js'
import { createMarketChain, simulateEvents } from '../../src/devnet/index.js'
import { startDevChain } from '../support/devchain.js'
import { stopAllHaithe } from '../support/cli.js'
import { createChildDatabase, startIndexerProcess, writeConfigFile } from '../support/indexer-process.js'

const dev = await startDevChain()
const market = createMarketChain({ rpcUrl: dev.anvil.rpcUrl, chain: dev.chain, deployment: dev.deployment, serverKey: ANVIL_DEPLOYER_KEY })
await simulateEvents({ chain: market, seed: 1, events: 40000, transactionsPerBatch: 10 })
const head = Number(await dev.publicClient.getBlockNumber())
const cfg = await writeConfigFile({ indexer: { batchEvents: 500, initialBlocks: 5, targetLogs: 1_000, maxBlocks: 2, concurrency: 2 } })
const database = await createChildDatabase()
const delays = (process.argv[2] ?? '').split(',').filter(Boolean).map(Number)
try {
  for (const d of delays) {
    const child = await startIndexerProcess({ rpcUrl: dev.anvil.rpcUrl, database, configFile: cfg.file, logLevel: 'debug' })
    const t = Date.now()
    await child.proc.waitForLog((l) => l.msg === 'indexer: leading', { timeoutMs: 60000, what: 'leading' })
    await new Promise((r) => setTimeout(r, d))
    await child.proc.kill()
    const lines = child.proc.logs()
    console.log(`killed after ${Date.now() - t} ms; ${lines.length} lines; last:`, lines.slice(-3).map((l) => `${l.time} ${l.msg} ${l.block ?? ''}`), child.proc.stderr().slice(-500))
  }
  const child = await startIndexerProcess({ rpcUrl: dev.anvil.rpcUrl, database, configFile: cfg.file, logLevel: 'debug' })
  const t = Date.now()
  try { await child.waitUntilIndexed(head, 60_000) } catch (e) { console.log(String(e).slice(0, 3000)) }
  console.log('final run', Date.now() - t, 'ms')
  for (const l of child.proc.logs()) console.log((l.time as number) - t, l.level, l.msg, l.block ?? '', l.err ? JSON.stringify(l.err).slice(0, 300) : '')
  console.log('stderr', child.proc.stderr())
} finally {
  await stopAllHaithe()
  await database.cleanup()
  await dev.stop()
}
