/** `haithe indexer`: the chain indexer alone, with its health, readiness and metrics over HTTP. */
import { createIndexer, type Indexer } from '../../indexer/index.js'
import { createOperationsServer, type OperationsServer } from '../api/operations-server.js'
import type { ChainConfig } from '../config/index.js'
import type { Context } from '../context.js'
import type { DatabaseHandle } from '../db/index.js'
import { migrateToLatest } from '../db/index.js'
import { openDatabase } from './migrate.js'

/** Starts the indexer on `database` for `chain`; a fatal stop (a reorg deeper than finality) ends the process. */
export function startIndexer(ctx: Context, database: DatabaseHandle, chain: ChainConfig, api: Pick<OperationsServer, 'addReadinessCheck'>): Indexer {
  const indexer = createIndexer({
    db: database.db,
    kind: database.kind,
    chain,
    logger: ctx.logger.child({ component: 'indexer' }),
    metrics: ctx.metrics,
    signal: ctx.shutdown.signal,
    tuning: ctx.config.indexer,
  })
  api.addReadinessCheck({
    name: 'indexer',
    check: async () => {
      const s = indexer.status()
      if (!s.ready) throw new Error(s.error ?? `${s.role}: indexed ${s.indexed ?? '-'} of head ${s.head ?? '-'}${s.rpcHealthy ? '' : ', RPC unreachable'}`)
      return `indexed ${s.indexed} of head ${s.head}`
    },
  })
  const running = indexer.run().catch((err: unknown) => {
    ctx.logger.fatal({ err }, `haithe: ${(err as Error).message}`)
    process.exitCode = 1
    void ctx.shutdown.run('indexer stopped').then(() => process.exit(1))
  })
  ctx.shutdown.add('indexer', () => running)
  return indexer
}

export async function runIndexer(ctx: Context): Promise<void> {
  const database = await openDatabase(ctx)
  ctx.shutdown.add('database', () => database.destroy())
  await migrateToLatest(database.db, { logger: ctx.logger })
  const api = createOperationsServer(ctx, { name: 'indexer', setting: 'INDEXER_PORT' })
  const { port } = await api.listen(ctx.config.api.host, ctx.config.indexer.port)
  ctx.shutdown.add('health server', () => api.close())
  ctx.logger.info(`indexer health and metrics on http://localhost:${port} (GET /health, /health/ready, /metrics)`)
  startIndexer(ctx, database, ctx.config.chain, api)
}
