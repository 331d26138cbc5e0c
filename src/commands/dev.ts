/**
 * `haithe dev`: everything in one process on the embedded defaults — the read API (its
 * /health answers from the first moment), the database (PGlite under the data dir unless
 * DATABASE_URL is set), a local anvil chain with the contracts deployed, the indexer
 * following it, and the market simulator producing live activity.
 */
import { rmSync } from 'node:fs'
import path from 'node:path'
import { sql } from 'kysely'
import { createApiServer } from '../api/index.js'
import { toViemChain } from '../chain/index.js'
import type { Context } from '../context.js'
import { migrateToLatest } from '../db/index.js'
import { createMarketChain, createMarketSimulator, startDevnet } from '../devnet/index.js'
import { startReads } from './api.js'
import { devJwtSecret, startGateway } from './gateway.js'
import { startIndexer } from './indexer.js'
import { openDatabase } from './migrate.js'

export interface DevOptions {
  /** Forget the persisted chain and embedded database first. */
  fresh: boolean
}

export async function runDev(ctx: Context, options: DevOptions): Promise<void> {
  const { config, logger, shutdown } = ctx
  const api = createApiServer(ctx, { api: config.api, redisUrl: config.redisUrl })
  const { port } = await api.listen(config.api.host, config.api.port)
  shutdown.add('read API', () => api.close())
  logger.info(`read API listening on http://localhost:${port} (GET /v1/..., /docs, /openapi.json, /health, /metrics; WebSocket /v1/ws)`)

  if (options.fresh) {
    for (const dir of ['devnet', 'pglite']) rmSync(path.resolve(config.dataDir, dir), { recursive: true, force: true })
    logger.info({ dataDir: config.dataDir }, 'starting fresh: removed the persisted chain and embedded database')
  }

  const database = await openDatabase(ctx)
  shutdown.add('database', () => database.destroy())
  await migrateToLatest(database.db, { logger })
  api.addReadinessCheck({ name: 'database', check: async () => (await sql`select 1`.execute(database.readDb), database.kind) })

  const devnet = await startDevnet({ dataDir: config.dataDir, chain: config.chain, logger })
  shutdown.add('anvil', () => devnet.anvil.stop())
  const viemChain = toViemChain({ ...devnet.chain, explorerUrl: undefined })
  const market = createMarketChain({ rpcUrl: devnet.anvil.rpcUrl, chain: viemChain, deployment: devnet.deployment, serverKey: devnet.serverKey })
  api.addReadinessCheck({ name: 'chain', check: async () => `head ${await market.publicClient.getBlockNumber()}` })

  startIndexer(ctx, database, devnet.chain, api)
  await startReads(ctx, database, devnet.chain.chainId, api, { indexerInProcess: true })

  const gateway = startGateway(ctx, database, devnet.chain, { privateKey: devnet.serverKey, jwtSecret: config.auth.jwtSecret ?? devJwtSecret(config.dataDir) })
  const { port: gatewayPort } = await gateway.server.listen(config.gateway.host, config.gateway.port)
  shutdown.add('gateway', () => gateway.server.close())
  logger.info(`gateway listening on http://localhost:${gatewayPort} (/api/v1/..., OpenAI-compatible /api/v1beta/openai)`)

  const simulator = await createMarketSimulator({ chain: market, seed: config.simulator.seed, weights: config.simulator.weights, logger })
  logger.info(
    { rpcUrl: devnet.anvil.rpcUrl, ...devnet.chain.contracts, seed: config.simulator.seed, actionsPerSecond: config.simulator.actionsPerSecond },
    `local chain ready at ${devnet.anvil.rpcUrl}; market simulator running (seed ${config.simulator.seed})`,
  )
  const simulating = simulator.run(config.simulator.actionsPerSecond, shutdown.signal).catch((err: unknown) => {
    logger.error({ err }, 'market simulator stopped')
  })
  // Registered last, so stopped first: no transaction is sent to an anvil that is going away.
  shutdown.add('market simulator', () => simulating)
}
