/**
 * The `haithe` command. Each command's module is imported only when it runs: importing them all
 * (viem, the gateway's providers, the simulator) cost `haithe indexer` about half a second of start-up.
 */
import { parseArgs } from 'node:util'
import { UsageError, userFacingErrors } from './commands/errors.js'
import { loadConfig } from './config/index.js'
import { createContext, type Context } from './context.js'

const usage = `haithe <command> [options]

commands:
  dev                  everything in one process on embedded defaults: read API, PGlite,
                       a local anvil chain with the contracts, the indexer and the market simulator
      --fresh          forget the persisted local chain and embedded database first
      --seed <n>       simulator seed (default: config simulator.seed / SIMULATOR_SEED)
  api                  the read API alone: REST under /v1, /docs, /openapi.json, WebSocket /v1/ws, gRPC
  migrate              apply database migrations (safe from several processes at once)
  simulate --events <n> [--seed <n>] [--rpc <url>]
                       put n events on a local anvil chain as fast as it takes them
  indexer              the chain indexer alone (health and metrics on INDEXER_PORT, 8082)
  gateway              the write path alone: v1's /api (sign-in, organizations, projects,
                       creators, faucet, webhooks) and the transaction outbox (needs SERVER_PVT_KEY, JWT_SECRET)

configuration: config/default.json, config/chains/<HAITHE_CHAIN>.json, then environment
variables (DATABASE_URL, PORT, GATEWAY_PORT, GRPC_PORT, JWT_SECRET, SERVER_PVT_KEY,
BLOCKCHAIN_PROVIDER_URL, LOG_LEVEL, ...); see README.md.`

function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number, got "${value}"`)
  return Number(value)
}

/** Stops cleanly on Ctrl-C or SIGTERM; a second signal stops at once. */
function stopOnSignals(ctx: Context): void {
  let stopping = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(130)
      stopping = true
      void ctx.shutdown.run(signal).then(() => process.exit(0))
    })
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  const { values } = parseArgs({
    args: rest,
    options: {
      fresh: { type: 'boolean', default: false },
      seed: { type: 'string' },
      events: { type: 'string' },
      rpc: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  if (!command || command === 'help' || values.help || command === '--help' || command === '-h') {
    console.log(usage)
    return
  }

  const seed = positiveInteger(values.seed, '--seed')
  switch (command) {
    case 'dev': {
      const config = loadConfig({ chain: 'devnet', overrides: seed === undefined ? {} : { simulator: { seed } } })
      const ctx = createContext(config, 'haithe')
      stopOnSignals(ctx)
      try {
        const { runDev } = await import('./commands/dev.js')
        await runDev(ctx, { fresh: values.fresh })
      } catch (err) {
        await ctx.shutdown.run('start-up failed')
        throw err
      }
      return
    }
    case 'api': {
      const ctx = createContext(loadConfig(), 'haithe-api')
      stopOnSignals(ctx)
      const { runApi } = await import('./commands/api.js')
      return runApi(ctx)
    }
    case 'migrate': {
      const { runMigrate } = await import('./commands/migrate.js')
      return runMigrate(createContext(loadConfig(), 'haithe-migrate'))
    }
    case 'simulate': {
      const events = positiveInteger(values.events, '--events')
      if (events === undefined || events === 0) throw new UsageError('simulate needs --events <n>, a positive whole number')
      const config = loadConfig()
      const ctx = createContext(config, 'haithe-simulate')
      const { runSimulate } = await import('./commands/simulate.js')
      return runSimulate(ctx, { events, seed: seed ?? config.simulator.seed, rpcUrl: values.rpc ?? config.chain.rpcUrl })
    }
    case 'indexer': {
      const ctx = createContext(loadConfig(), 'haithe-indexer')
      stopOnSignals(ctx)
      const { runIndexer } = await import('./commands/indexer.js')
      return runIndexer(ctx)
    }
    case 'gateway': {
      const ctx = createContext(loadConfig(), 'haithe-gateway')
      stopOnSignals(ctx)
      const { runGateway } = await import('./commands/gateway.js')
      return runGateway(ctx)
    }
    default:
      throw new UsageError(`unknown command "${command}"; run \`haithe help\``)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const error = err instanceof Error ? err : new Error(String(err))
  // parseArgs reports bad flags with a code; like our own user-facing errors, one line.
  const oneLine = userFacingErrors.has(error.name) || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
  console.error(oneLine ? `haithe: ${error.message}` : error)
  const usageMistake = error.name === 'UsageError' || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
  process.exit(usageMistake ? 2 : 1)
})
