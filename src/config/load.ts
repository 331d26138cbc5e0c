/**
 * Loads the configuration: config/default.json, then an optional HAITHE_CONFIG_FILE, then the
 * chain file config/chains/<chain>.json, then environment variables, then programmatic
 * overrides; validated with zod. A bad value stops start-up with one line naming where it came
 * from (the variable or the config path) and what it expects, never the value itself.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { applyEnvOverrides, type EnvName } from './env.js'
import { packageRoot } from './paths.js'
import { configSchema, type HaitheConfig } from './schema.js'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

type Json = Record<string, unknown>

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv
  /** Folder holding default.json and chains/; default the package's config/. */
  configDir?: string
  /** Chain name; default HAITHE_CHAIN, then the file's `chain`. */
  chain?: string
  /** Applied last, for programs and tests (deep-merged). */
  overrides?: Json
}

export function loadConfig(options: LoadConfigOptions = {}): HaitheConfig {
  const env = options.env ?? process.env
  const configDir = options.configDir ?? path.join(packageRoot(), 'config')

  const raw = readJson(path.join(configDir, 'default.json'), 'default configuration')
  if (env.HAITHE_CONFIG_FILE) deepMerge(raw, readJson(path.resolve(env.HAITHE_CONFIG_FILE), 'HAITHE_CONFIG_FILE'))

  const chainName = options.chain ?? (env.HAITHE_CHAIN || undefined) ?? raw.chain
  if (typeof chainName !== 'string') throw new ConfigError('invalid configuration: chain must be a chain name such as devnet')
  const chainFile = path.join(configDir, 'chains', `${chainName}.json`)
  if (!existsSync(chainFile)) {
    const known = readdirSync(path.join(configDir, 'chains')).map((f) => f.replace(/\.json$/, ''))
    const source = options.chain !== undefined ? 'chain' : env.HAITHE_CHAIN ? 'HAITHE_CHAIN' : 'chain (config)'
    throw new ConfigError(`invalid configuration: ${source} "${chainName}" is not a known chain (known: ${known.join(', ')})`)
  }
  raw.chain = readJson(chainFile, `chain file ${chainName}.json`)

  const sources = applyEnvOverrides(raw, env)
  if (options.overrides) deepMerge(raw, options.overrides)

  const parsed = configSchema.safeParse(raw)
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${describeIssues(parsed.error.issues, sources)}`)
  return parsed.data
}

function describeIssues(issues: { path: PropertyKey[]; message: string }[], sources: Map<string, EnvName>): string {
  return issues
    .map((issue) => {
      const at = issue.path.map(String).join('.')
      const label = sources.get(at) ?? (at ? `${at} (config)` : 'config')
      return `${label} ${issue.message}`
    })
    .join('; ')
}

function readJson(file: string, what: string): Json {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    throw new ConfigError(`invalid configuration: ${what} not readable at ${file}`)
  }
  try {
    return JSON.parse(text) as Json
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${what} at ${file} is not valid JSON (${(err as Error).message})`)
  }
}

function deepMerge(target: Json, source: Json): Json {
  for (const [key, value] of Object.entries(source)) {
    const current = target[key]
    if (isPlainObject(value) && isPlainObject(current)) deepMerge(current, value)
    else target[key] = value
  }
  return target
}

const isPlainObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
