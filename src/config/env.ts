/**
 * Environment variables that override the configuration files: the names the original Haithe
 * used (DATABASE_URL, PORT, JWT_SECRET, SERVER_PVT_KEY, BLOCKCHAIN_PROVIDER_URL, provider keys)
 * and ours. Each maps to one path in the configuration.
 */
export const envOverrides = {
  HAITHE_DATA_DIR: 'dataDir',
  DATABASE_URL: 'database.url',
  DATABASE_READ_URL: 'database.readUrl',
  DATABASE_STATEMENT_TIMEOUT_MS: 'database.statementTimeoutMs',
  PORT: 'api.port',
  CORS_ORIGINS: 'api.corsOrigins',
  READ_API_KEYS: 'api.apiKeys',
  REQUEST_TIMEOUT_MS: 'api.requestTimeoutMs',
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: 'api.rateLimit.anonymousPerMinute',
  RATE_LIMIT_IDENTIFIED_PER_MINUTE: 'api.rateLimit.identifiedPerMinute',
  GATEWAY_PORT: 'gateway.port',
  GATEWAY_CONFIRMATIONS: 'gateway.confirmations',
  SETTLEMENT_INTERVAL_MS: 'gateway.settlementIntervalMs',
  SIWE_DOMAINS: 'gateway.siweDomains',
  STRIPE_WEBHOOK_SECRET: 'webhooks.stripe.secret',
  WEBHOOK_SECRET: 'webhooks.generic.secret',
  TEE_ATTESTATION_URL: 'tee.attestationUrl',
  TEE_SECRET: 'tee.secret',
  IPFS_GATEWAY: 'inference.ipfsGateway',
  INFERENCE_ALLOW_HOSTS: 'inference.allowHosts',
  MEMORY_WINDOW: 'inference.memoryWindow',
  SEARCH_PROVIDER: 'search.provider',
  SEARCH_URL: 'search.baseUrl',
  SEARCH_API_KEY: 'search.apiKey',
  GRPC_PORT: 'grpc.port',
  INDEXER_PORT: 'indexer.port',
  LOG_LEVEL: 'log.level',
  LOG_FORMAT: 'log.format',
  JWT_SECRET: 'auth.jwtSecret',
  SERVER_PVT_KEY: 'signer.privateKey',
  REDIS_URL: 'redisUrl',
  BLOCKCHAIN_PROVIDER_URL: 'chain.rpcUrl',
  GEMINI_API_KEY: 'providers.google.apiKey',
  GROQ_API_KEY: 'providers.groq.apiKey',
  OPENAI_API_KEY: 'providers.openai.apiKey',
  DEEPSEEK_API_KEY: 'providers.deepseek.apiKey',
  MOONSHOT_API_KEY: 'providers.moonshot.apiKey',
  CUSTOM_LLM_API_KEY: 'providers.custom.apiKey',
  CUSTOM_LLM_BASE_URL: 'providers.custom.baseUrl',
  SIMULATOR_SEED: 'simulator.seed',
  SIMULATOR_ACTIONS_PER_SECOND: 'simulator.actionsPerSecond',
} as const

/** Values that are lists in the configuration and comma-separated in the environment. */
const listPaths = new Set<string>(['api.corsOrigins', 'api.apiKeys', 'gateway.siweDomains', 'inference.allowHosts'])

export type EnvName = keyof typeof envOverrides

/** Sets `path` (dotted) in a plain object, creating intermediate objects. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.')
  let node = target
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[keys[keys.length - 1]!] = value
}

/** Applies the set (non-empty) variables of `env`; returns which config path came from which variable. */
export function applyEnvOverrides(target: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, EnvName> {
  const sources = new Map<string, EnvName>()
  for (const [name, path] of Object.entries(envOverrides) as [EnvName, string][]) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    setPath(target, path, listPaths.has(path) ? raw.split(',').map((s) => s.trim()).filter(Boolean) : raw)
    sources.set(path, name)
  }
  return sources
}
