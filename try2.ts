import { pino } from 'pino'
import { loadConfig } from './src/config/index.js'
import { startDevnet, createMarketChain, createMarketSimulator } from './src/devnet/index.js'
import { toViemChain } from './src/chain/index.js'
const config = loadConfig({ env: {} })
const dn = await startDevnet({ dataDir: '/tmp/dn-test', chain: config.chain, logger: pino({level:'warn'}), persist: false })
const chain = createMarketChain({ rpcUrl: dn.anvil.rpcUrl, chain: toViemChain({ ...dn.chain, explorerUrl: undefined }), deployment: dn.deployment, serverKey: dn.serverKey })
const sim = await createMarketSimulator({ chain, seed: 5, weights: config.simulator.weights })
for (let i = 0; i < 80; i++) await sim.step()
const again = await createMarketSimulator({ chain, seed: 5, weights: config.simulator.weights })
const a = sim.state.organizations.map(o => [o.name, o.owner.address, o.enabled.length, o.balance])
const b = again.state.organizations.map(o => [o.name, o.owner.address, o.enabled.length, o.balance])
console.log(JSON.stringify(a, (k, v) => typeof v === 'bigint' ? v.toString() : v))
console.log(JSON.stringify(b, (k, v) => typeof v === 'bigint' ? v.toString() : v))
console.log(sim.state.products.length, again.state.products.length, sim.state.creators.length, again.state.creators.length, sim.state.owners.length, again.state.owners.length)
const { simulateEvents } = await import("./src/devnet/index.js")
try { await simulateEvents({ chain, seed: 5, events: 20000 }) } catch (e) { console.log((e as Error).message.split("\n").slice(0,3)) }
const s3 = await createMarketSimulator({ chain, seed: 5, weights: config.simulator.weights })
console.log(s3.state.organizations.map(o => [o.name, o.enabled.length]))
await dn.anvil.stop()
