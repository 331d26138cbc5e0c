import { pino } from 'pino'
import { loadConfig } from './src/config/index.js'
import { startDevnet, createMarketChain, simulateEvents } from './src/devnet/index.js'
import { toViemChain } from './src/chain/index.js'
const logger = pino({ level: 'info', base: undefined })
const config = loadConfig()
const dn = await startDevnet({ dataDir: '/tmp/dn-test', chain: config.chain, logger, persist: false })
const chain = createMarketChain({ rpcUrl: dn.anvil.rpcUrl, chain: toViemChain({ ...dn.chain, explorerUrl: undefined }), deployment: dn.deployment, serverKey: dn.serverKey })
const r = await simulateEvents({ chain, seed: 7, events: 200_000 })
console.log(r, (r.events / r.seconds).toFixed(0), 'events/s')
await dn.anvil.stop()
