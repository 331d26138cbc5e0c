/**
 * `npm run bench:simulate`: how fast the bulk simulator puts events on a fresh anvil chain
 * (the input side of the indexer benchmark). BENCH_EVENTS sets the size (default 200,000).
 */
import { pino } from 'pino'
import { loadConfig } from '../src/config/index.js'
import { createMarketChain, simulateEvents, startDevnet } from '../src/devnet/index.js'
import { toViemChain } from '../src/chain/index.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

const events = Number(process.env.BENCH_EVENTS ?? 200_000)
const logger = pino({ level: 'warn' })
const dataDir = mkdtempSync(path.join(tmpdir(), 'haithe-bench-'))
const devnet = await startDevnet({ dataDir, chain: loadConfig({ env: {} }).chain, logger, persist: false })
try {
  const chain = createMarketChain({
    rpcUrl: devnet.anvil.rpcUrl,
    chain: toViemChain({ ...devnet.chain, explorerUrl: undefined }),
    deployment: devnet.deployment,
    serverKey: devnet.serverKey,
  })
  let peakRss = process.memoryUsage().rss
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200)
  const result = await simulateEvents({ chain, seed: 1, events })
  clearInterval(sampler)
  const figures = {
    bench: 'simulate',
    events: result.events,
    transactions: result.transactions,
    blocks: result.blocks,
    seconds: Number(result.seconds.toFixed(2)),
    events_per_s: Math.round(result.events / result.seconds),
    tx_per_s: Math.round(result.transactions / result.seconds),
    peak_rss_mb: Math.round(peakRss / 2 ** 20),
  }
  console.log(`simulated ${figures.events} events in ${figures.transactions} transactions over ${figures.blocks} blocks`)
  console.log(`  ${figures.seconds} s   ${figures.events_per_s} events/s   ${figures.tx_per_s} tx/s   peak RSS ${figures.peak_rss_mb} MB (simulator process)`)
  console.log(JSON.stringify(figures))
} finally {
  await devnet.anvil.stop()
  rmSync(dataDir, { recursive: true, force: true })
}
