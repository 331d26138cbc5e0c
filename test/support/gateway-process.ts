/**
 * `haithe gateway` as a child process, for tests that kill it: on the devnet chain file (whose
 * contract addresses are those of a fresh anvil deployment), signing with the key given.
 *
 *   const database = await createChildDatabase()
 *   const gateway = startGatewayProcess({ rpcUrl, database, privateKey, jwtSecret })
 *   await gateway.listening
 *   const answer = await gateway.call('GET', '/api/v1/tx/1', token)
 *   await gateway.proc.kill()                     // SIGKILL
 */
import type { Hex } from 'viem'
import { haitheEnv, startHaithe, type HaitheProcess } from './cli.js'
import type { ChildDatabase } from './indexer-process.js'

export interface GatewayProcessOptions {
  rpcUrl: string
  database: Pick<ChildDatabase, 'env'>
  /** SERVER_PVT_KEY. */
  privateKey: Hex
  /** JWT_SECRET (at least 32 characters). */
  jwtSecret: string
  /** A HAITHE_CONFIG_FILE path (tuning). */
  configFile?: string
  logLevel?: string
  env?: Record<string, string>
}

export interface GatewayProcess {
  proc: HaitheProcess
  /** Resolves with the base URL once the gateway listens. */
  listening: Promise<string>
  /** One request to the gateway (after `listening`); status 0 when it does not answer. */
  call<T = unknown>(method: string, path: string, token?: string): Promise<{ status: number; body: T | undefined }>
}

export function startGatewayProcess(options: GatewayProcessOptions): GatewayProcess {
  const proc = startHaithe(
    ['gateway'],
    haitheEnv({
      HAITHE_CHAIN: 'devnet',
      BLOCKCHAIN_PROVIDER_URL: options.rpcUrl,
      SERVER_PVT_KEY: options.privateKey,
      JWT_SECRET: options.jwtSecret,
      GATEWAY_PORT: '0',
      LOG_FORMAT: 'json',
      LOG_LEVEL: options.logLevel ?? 'info',
      ...(options.configFile ? { HAITHE_CONFIG_FILE: options.configFile } : {}),
      ...options.database.env,
      ...options.env,
    }),
  )
  const listening = proc
    .waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('gateway listening on'), { timeoutMs: 60_000, what: '"gateway listening"' })
    .then((line) => `http://127.0.0.1:${/:(\d+)/.exec(String(line.msg))![1]}`)
  listening.catch(() => {})
  return {
    proc,
    listening,
    async call<T>(method: string, path: string, token?: string) {
      const base = await listening
      try {
        const response = await fetch(base + path, { method, headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5_000) })
        const text = await response.text()
        return { status: response.status, body: text ? (JSON.parse(text) as T) : undefined }
      } catch {
        return { status: 0, body: undefined }
      }
    },
  }
}
