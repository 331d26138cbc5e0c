/**
 * Configuration: config/default.json, config/chains/<name>.json, HAITHE_CONFIG_FILE and the
 * environment variables, validated into one object. Every test passes an explicit `env`, so
 * nothing here depends on the shell the tests run in.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, envOverrides, loadConfig, type HaitheConfig } from '../src/config/index.js'

/** The error `fn` throws (fails the test if it returns). */
function errorOf(fn: () => unknown): Error {
  try {
    fn()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a ConfigError, but the configuration loaded')
}

/** Loads with `env` and returns the ConfigError it must throw, checked to be one line. */
function configErrorOf(env: NodeJS.ProcessEnv): ConfigError {
  const error = errorOf(() => loadConfig({ env }))
  expect(error).toBeInstanceOf(ConfigError)
  expect(error.name).toBe('ConfigError')
  expect(error.message).not.toMatch(/[\r\n]/)
  expect(error.message.trim()).toBe(error.message)
  expect(error.message.length).toBeGreaterThan(0)
  return error as ConfigError
}

const hexKey = 'ab'.repeat(32)
const longSecret = 'a-jwt-secret-that-is-long-enough-0123456789'

describe('chain files', () => {
  it('without any variable, loads the devnet chain and the defaults', () => {
    const config = loadConfig({ env: {} })
    expect(config.chain).toMatchObject({ name: 'devnet', chainId: 31337, rpcUrl: 'http://127.0.0.1:8545', testnet: true, explorerUrl: null })
    for (const address of [config.chain.contracts.tusdt, config.chain.contracts.orchestrator, config.chain.contracts.creatorIdentity]) {
      expect(address).toMatch(/^0x[0-9a-f]{40}$/)
    }
    expect(config.api.port).toBe(8080)
    expect(config.gateway.port).toBe(8081)
    expect(config.grpc.port).toBe(9090)
    expect(config.api.corsOrigins).toEqual(['*'])
    expect(config.database).toMatchObject({ url: null, readUrl: null })
    expect(config.signer.privateKey).toBeNull()
    expect(config.auth.jwtSecret).toBeNull()
    expect(config.redisUrl).toBeNull()
    expect(config.dataDir).toBe('.data')
    expect(config.log).toEqual({ level: 'info', format: 'auto' })
    for (const provider of Object.values(config.providers)) expect(provider.apiKey).toBeNull()
  })

  it('HAITHE_CHAIN=hyperion-testnet loads chain 133717 with the v1 deployment, lowercased', () => {
    const { chain } = loadConfig({ env: { HAITHE_CHAIN: 'hyperion-testnet' } })
    expect(chain).toMatchObject({
      name: 'hyperion-testnet',
      chainId: 133717,
      rpcUrl: 'https://hyperion-testnet.metisdevops.link',
      explorerUrl: 'https://hyperion-testnet-explorer.metisdevops.link',
      nativeCurrency: { symbol: 'tMETIS', decimals: 18 },
      testnet: true,
    })
    expect(chain.contracts).toMatchObject({
      tusdt: '0x62500ed734585c9f1f63f45a18fd81618ef5abe5',
      orchestrator: '0xc0a5548453db4e8fb39447638f62114f67cf2b5e',
      creatorIdentity: '0x932f712b3bb0e1cc25f4c4fade7f5ccb621d565c',
    })
  })

  it('HAITHE_CHAIN=devnet loads chain 31337', () => {
    expect(loadConfig({ env: { HAITHE_CHAIN: 'devnet' } }).chain.chainId).toBe(31337)
  })

  it('a chain given by the program (as `haithe dev` does) wins over HAITHE_CHAIN', () => {
    expect(loadConfig({ chain: 'devnet', env: { HAITHE_CHAIN: 'hyperion-testnet' } }).chain.chainId).toBe(31337)
  })
})

describe('environment overrides', () => {
  const cases: [name: string, value: string, read: (c: HaitheConfig) => unknown, expected: unknown][] = [
    ['DATABASE_URL', 'postgres://haithe:pw@db.example:5432/haithe', (c) => c.database.url, 'postgres://haithe:pw@db.example:5432/haithe'],
    ['DATABASE_URL', 'postgresql://localhost/haithe', (c) => c.database.url, 'postgresql://localhost/haithe'],
    ['DATABASE_READ_URL', 'postgres://reader@replica.example/haithe', (c) => c.database.readUrl, 'postgres://reader@replica.example/haithe'],
    ['PORT', '3000', (c) => c.api.port, 3000],
    ['GATEWAY_PORT', '3001', (c) => c.gateway.port, 3001],
    ['GRPC_PORT', '50051', (c) => c.grpc.port, 50051],
    ['JWT_SECRET', longSecret, (c) => c.auth.jwtSecret, longSecret],
    ['SERVER_PVT_KEY', `0x${hexKey}`, (c) => c.signer.privateKey, `0x${hexKey}`],
    ['SERVER_PVT_KEY', hexKey, (c) => c.signer.privateKey, `0x${hexKey}`],
    ['BLOCKCHAIN_PROVIDER_URL', 'https://rpc.example/v1/abc', (c) => c.chain.rpcUrl, 'https://rpc.example/v1/abc'],
    ['GEMINI_API_KEY', 'gemini-key', (c) => c.providers.google.apiKey, 'gemini-key'],
    ['GROQ_API_KEY', 'groq-key', (c) => c.providers.groq.apiKey, 'groq-key'],
    ['OPENAI_API_KEY', 'openai-key', (c) => c.providers.openai.apiKey, 'openai-key'],
    ['DEEPSEEK_API_KEY', 'deepseek-key', (c) => c.providers.deepseek.apiKey, 'deepseek-key'],
    ['MOONSHOT_API_KEY', 'moonshot-key', (c) => c.providers.moonshot.apiKey, 'moonshot-key'],
    ['LOG_LEVEL', 'debug', (c) => c.log.level, 'debug'],
    ['LOG_FORMAT', 'json', (c) => c.log.format, 'json'],
    ['HAITHE_DATA_DIR', '/var/lib/haithe', (c) => c.dataDir, '/var/lib/haithe'],
    ['REDIS_URL', 'redis://127.0.0.1:6379', (c) => c.redisUrl, 'redis://127.0.0.1:6379'],
    ['SIMULATOR_SEED', '42', (c) => c.simulator.seed, 42],
  ]

  it.each(cases)('%s=%s lands in its place', (name, value, read, expected) => {
    expect(read(loadConfig({ env: { [name]: value } }))).toEqual(expected)
  })

  it('a variable changes only its own place', () => {
    const defaults = loadConfig({ env: {} })
    const withPort = loadConfig({ env: { PORT: '3000' } })
    expect({ ...withPort, api: { ...withPort.api, port: defaults.api.port } }).toEqual(defaults)
  })

  it('BLOCKCHAIN_PROVIDER_URL overrides the RPC of the selected chain file, keeping its other facts', () => {
    const { chain } = loadConfig({ env: { HAITHE_CHAIN: 'hyperion-testnet', BLOCKCHAIN_PROVIDER_URL: 'http://10.0.0.5:8545' } })
    expect(chain.rpcUrl).toBe('http://10.0.0.5:8545')
    expect(chain.chainId).toBe(133717)
    expect(chain.contracts.orchestrator).toBe('0xc0a5548453db4e8fb39447638f62114f67cf2b5e')
  })

  it('CORS_ORIGINS is a comma-separated list, trimmed, empty items dropped', () => {
    const { api } = loadConfig({ env: { CORS_ORIGINS: 'https://app.haithe.ai, https://studio.haithe.ai ,,' } })
    expect(api.corsOrigins).toEqual(['https://app.haithe.ai', 'https://studio.haithe.ai'])
    expect(loadConfig({ env: { CORS_ORIGINS: 'https://one.example' } }).api.corsOrigins).toEqual(['https://one.example'])
  })

  it('port 0 means any free port (used by tests and benchmarks)', () => {
    expect(loadConfig({ env: { PORT: '0', INDEXER_PORT: '0' } })).toMatchObject({ api: { port: 0 }, indexer: { port: 0 } })
  })

  it('variables set to the empty string are ignored', () => {
    const empty = Object.fromEntries(Object.keys(envOverrides).map((name) => [name, '']))
    expect(loadConfig({ env: { ...empty, HAITHE_CONFIG_FILE: '' } })).toEqual(loadConfig({ env: {} }))
  })

  it('HAITHE_CHAIN set to the empty string is ignored too', () => {
    expect(loadConfig({ env: { HAITHE_CHAIN: '' } }).chain.chainId).toBe(31337)
  })

  it('programmatic overrides (the CLI\'s --seed) are applied last', () => {
    const config = loadConfig({ env: { SIMULATOR_SEED: '7' }, overrides: { simulator: { seed: 42 } } })
    expect(config.simulator.seed).toBe(42)
    expect(config.simulator.weights.settleUsage).toBe(loadConfig({ env: {} }).simulator.weights.settleUsage)
  })
})

describe('invalid values stop start-up with one line', () => {
  const secretKeyShort = '0x1234abcd'
  const secretKeyNotHex = `0x${'zz'.repeat(32)}`
  const secretKeyNotHexBare = `g${'1'.repeat(63)}`
  const shortJwt = 'tiny-secret-value'

  const cases: [name: string, value: string, expects: RegExp][] = [
    ['SERVER_PVT_KEY', secretKeyShort, /32-byte hex private key/],
    ['SERVER_PVT_KEY', secretKeyNotHex, /32-byte hex private key/],
    ['SERVER_PVT_KEY', secretKeyNotHexBare, /32-byte hex private key/],
    ['DATABASE_URL', 'mysql://root:hunter2pw@db.example:3306/haithe', /PostgreSQL URL/],
    ['DATABASE_URL', 'not a url', /PostgreSQL URL/],
    ['DATABASE_READ_URL', 'mysql://reader:hunter2pw@replica/haithe', /PostgreSQL URL/],
    ['PORT', 'abc', /TCP port/],
    ['PORT', '-1', /TCP port/],
    ['PORT', '70000', /TCP port/],
    ['GATEWAY_PORT', '-1', /TCP port/],
    ['GRPC_PORT', '99999', /TCP port/],
    ['LOG_LEVEL', 'loud', /one of trace, debug, info/],
    ['LOG_FORMAT', 'xml', /auto, json or pretty/],
    ['BLOCKCHAIN_PROVIDER_URL', 'not a url', /http\(s\) URL/],
    ['BLOCKCHAIN_PROVIDER_URL', 'ftp://rpc.example', /http\(s\) URL/],
    ['JWT_SECRET', shortJwt, /at least 32 characters/],
    ['REDIS_URL', 'http://cache.example', /Redis URL/],
    ['HAITHE_CHAIN', 'no-such-chain', /not a known chain \(known: .*devnet.*hyperion-testnet/],
  ]

  it.each(cases)('%s=%s: a ConfigError naming the variable', (name, value, expects) => {
    const { message } = configErrorOf({ [name]: value })
    expect(message).toMatch(/^invalid configuration: /)
    expect(message).toContain(name)
    expect(message).toMatch(expects)
  })

  it.each([
    ['SERVER_PVT_KEY', secretKeyShort],
    ['SERVER_PVT_KEY', secretKeyNotHex],
    ['SERVER_PVT_KEY', secretKeyNotHexBare],
    ['JWT_SECRET', shortJwt],
    ['DATABASE_URL', 'mysql://root:hunter2pw@db.example:3306/haithe'],
  ])('the message for a bad %s never repeats the value', (name, value) => {
    const { message } = configErrorOf({ [name]: value })
    expect(message).not.toContain(value)
    expect(message).not.toContain(value.replace(/^0x/, ''))
    expect(message).not.toContain('hunter2pw')
  })

  it('several bad values are all named in the one line', () => {
    const { message } = configErrorOf({ PORT: 'abc', SERVER_PVT_KEY: secretKeyShort, JWT_SECRET: shortJwt, LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x@y/z' })
    for (const name of ['PORT', 'SERVER_PVT_KEY', 'JWT_SECRET', 'LOG_LEVEL', 'DATABASE_URL']) expect(message).toContain(name)
    expect(message).not.toContain(secretKeyShort)
    expect(message).not.toContain(shortJwt)
  })
})

describe('HAITHE_CONFIG_FILE', () => {
  let dir: string
  const file = (name: string, contents: string) => {
    const full = path.join(dir, name)
    writeFileSync(full, contents)
    return full
  }

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'haithe-config-test-'))
  })
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('deep-merges over the defaults: what it sets changes, its siblings stay', () => {
    const HAITHE_CONFIG_FILE = file('deep.json', JSON.stringify({ api: { port: 9999 }, simulator: { weights: { settleUsage: 50 } }, database: { statementTimeoutMs: 1234 } }))
    const defaults = loadConfig({ env: {} })
    const config = loadConfig({ env: { HAITHE_CONFIG_FILE } })
    expect(config.api).toEqual({ ...defaults.api, port: 9999 })
    expect(config.simulator.weights).toEqual({ ...defaults.simulator.weights, settleUsage: 50 })
    expect(config.database).toEqual({ ...defaults.database, statementTimeoutMs: 1234 })
    expect(config.gateway).toEqual(defaults.gateway)
    expect(config.providers).toEqual(defaults.providers)
  })

  it('environment variables win over the file', () => {
    const HAITHE_CONFIG_FILE = file('port.json', JSON.stringify({ api: { port: 9999 } }))
    expect(loadConfig({ env: { HAITHE_CONFIG_FILE, PORT: '7000' } }).api.port).toBe(7000)
  })

  it('may select the chain; HAITHE_CHAIN wins over it', () => {
    const HAITHE_CONFIG_FILE = file('chain.json', JSON.stringify({ chain: 'hyperion-testnet' }))
    expect(loadConfig({ env: { HAITHE_CONFIG_FILE } }).chain.chainId).toBe(133717)
    expect(loadConfig({ env: { HAITHE_CONFIG_FILE, HAITHE_CHAIN: 'devnet' } }).chain.chainId).toBe(31337)
  })

  it('a file that does not exist: a ConfigError naming HAITHE_CONFIG_FILE', () => {
    const { message } = configErrorOf({ HAITHE_CONFIG_FILE: path.join(dir, 'missing.json') })
    expect(message).toContain('HAITHE_CONFIG_FILE')
    expect(message).toContain('missing.json')
    expect(message).toMatch(/not readable/)
  })

  it('a directory instead of a file: a ConfigError naming HAITHE_CONFIG_FILE', () => {
    const { message } = configErrorOf({ HAITHE_CONFIG_FILE: dir })
    expect(message).toContain('HAITHE_CONFIG_FILE')
    expect(message).toMatch(/not readable/)
  })

  it('invalid JSON: a ConfigError naming HAITHE_CONFIG_FILE and saying it is not valid JSON', () => {
    const HAITHE_CONFIG_FILE = file('broken.json', '{ "api": { "port": 9999, }\n}\n')
    const { message } = configErrorOf({ HAITHE_CONFIG_FILE })
    expect(message).toContain('HAITHE_CONFIG_FILE')
    expect(message).toContain('broken.json')
    expect(message).toMatch(/not valid JSON/)
  })

  it('a bad value in the file: a ConfigError naming the config path', () => {
    const HAITHE_CONFIG_FILE = file('bad-value.json', JSON.stringify({ api: { port: 'eighty' }, log: { level: 'loud' } }))
    const { message } = configErrorOf({ HAITHE_CONFIG_FILE })
    expect(message).toContain('api.port (config)')
    expect(message).toContain('log.level (config)')
    expect(message).toMatch(/TCP port/)
  })
})
