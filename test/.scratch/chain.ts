import { pino } from 'pino'
import { ANVIL_DEPLOYER_KEY } from '../../src/chain/index.js'
import { createMarketChain, simulateEvents } from '../../src/devnet/index.js'
import { startDevChain } from '../support/devchain.js'
import { loadConfig } from '../../src/config/index.js'

const t0 = performance.now()
const dev = await startDevChain()
console.log('devchain', (performance.now() - t0).toFixed(0), dev.deployment, loadConfig({env:{}}).chain.contracts)
const market = createMarketChain({ rpcUrl: dev.anvil.rpcUrl, chain: dev.chain, deployment: dev.deployment, serverKey: ANVIL_DEPLOYER_KEY })
const t1 = performance.now()
const r = await simulateEvents({ chain: market, seed: 3, events: Number(process.argv[2] ?? 30000), transactionsPerBatch: Number(process.argv[3] ?? 200), logger: pino({ level: 'warn' }) })
console.log('sim', (performance.now() - t1).toFixed(0), r)
const head = Number(await dev.publicClient.getBlockNumber())
const counts: number[] = []
for (let b = Number(r.fromBlock); b <= head; b++) {
  const logs = await dev.publicClient.request({ method: 'eth_getLogs', params: [{ fromBlock: `0x${b.toString(16)}`, toBlock: `0x${b.toString(16)}` }] } as never) as unknown[]
  counts.push(logs.length)
}
console.log('head', head, 'max logs/block', Math.max(...counts), 'blocks with >300', counts.filter(c=>c>300).length, 'hist', counts.slice(-20))
await dev.stop()
