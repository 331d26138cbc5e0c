/** `haithe gateway`: the write path alone — v1's `/api`, the transaction outbox and its signer. */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { sql } from 'kysely'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { createChainPublicClient, toViemChain } from '../chain/index.js'
import type { ChainConfig } from '../config/index.js'
import type { Context } from '../context.js'
import { migrateToLatest, type DatabaseHandle } from '../db/index.js'
import { createBilling, createGatewayServer, createSettler, createOutbox, writeRoutes, type GatewayServer, type WriteContext } from '../write/index.js'
import { createCallCache } from '../write/inference/chat/call-cache.js'
import { UsageError } from './errors.js'
import { openDatabase } from './migrate.js'

export interface GatewaySecrets {
  /** The server's key: signs transactions and `sk-` keys; the orchestrator's `server`. */
  privateKey: Hex
  /** HS256 secret of session tokens. */
  jwtSecret: string
}

/**
 * Builds the write path on `database` for `chain` and starts its outbox signer (it signs only
 * while it holds the signer lock). The caller listens.
 */
export function startGateway(ctx: Context, database: DatabaseHandle, chain: ChainConfig, secrets: GatewaySecrets): { w: WriteContext; server: GatewayServer } {
  const logger = ctx.logger.child({ component: 'gateway' })
  const publicClient = createChainPublicClient(chain.rpcUrl, toViemChain({ ...chain, explorerUrl: chain.explorerUrl ?? undefined }))
  const account = privateKeyToAccount(secrets.privateKey)
  const outbox = createOutbox({
    db: database.db, chain, publicClient, account, logger: logger.child({ component: 'outbox' }), metrics: ctx.metrics,
    confirmations: ctx.config.gateway.confirmations, stuckAfterMs: ctx.config.gateway.stuckAfterMs,
  })
  const billing = createBilling({ db: database.db, chain, logger: logger.child({ component: 'billing' }), metrics: ctx.metrics })
  const w: WriteContext = {
    db: database.db, chain, publicClient, account, outbox, billing, callCache: createCallCache(), config: ctx.config, jwtSecret: secrets.jwtSecret,
    logger, metrics: ctx.metrics, now: () => new Date(),
  }
  const server = createGatewayServer(w, { routes: writeRoutes, listen: database.listen })
  server.addReadinessCheck({ name: 'database', check: async () => (await sql`select 1`.execute(database.db), database.kind) })
  server.addReadinessCheck({ name: 'chain', check: async () => `head ${await publicClient.getBlockNumber()}` })
  const signing = outbox.run(ctx.shutdown.signal).catch((err: unknown) => logger.error({ err }, 'outbox signer stopped'))
  ctx.shutdown.add('outbox signer', () => signing)
  if (ctx.config.gateway.settlementIntervalMs > 0) {
    const settler = createSettler({
      db: database.db, chain, outbox, logger: logger.child({ component: 'settlement' }), metrics: ctx.metrics,
      intervalMs: ctx.config.gateway.settlementIntervalMs, maxLinesPerBatch: ctx.config.gateway.settlementMaxLinesPerBatch,
      // Longer than any inference call may run.
      staleReservationMs: ctx.config.gateway.inferenceTimeoutMs + 60_000,
    })
    const settling = settler.run(ctx.shutdown.signal).catch((err: unknown) => logger.error({ err }, 'settler stopped'))
    ctx.shutdown.add('settler', () => settling)
  }
  return { w, server }
}

/** The JWT secret of `haithe dev`: generated once and kept in the data dir, so sessions survive a restart. */
export function devJwtSecret(dataDir: string): string {
  const file = path.resolve(dataDir, 'jwt-secret')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(path.dirname(file), { recursive: true })
  const secret = randomBytes(32).toString('hex')
  writeFileSync(file, secret, { mode: 0o600 })
  return secret
}

export async function runGateway(ctx: Context): Promise<void> {
  const { config, logger, shutdown } = ctx
  if (!config.signer.privateKey) throw new UsageError('haithe gateway needs the server key: set SERVER_PVT_KEY (the orchestrator\'s server account)')
  if (!config.auth.jwtSecret) throw new UsageError('haithe gateway needs JWT_SECRET (at least 32 characters) to sign session tokens')
  const database = await openDatabase(ctx)
  shutdown.add('database', () => database.destroy())
  await migrateToLatest(database.db, { logger })
  const { server } = startGateway(ctx, database, config.chain, { privateKey: config.signer.privateKey, jwtSecret: config.auth.jwtSecret })
  const { port } = await server.listen(config.gateway.host, config.gateway.port)
  shutdown.add('gateway', () => server.close())
  logger.info(`gateway listening on http://localhost:${port} (/api/v1/..., /health, /metrics)`)
}
