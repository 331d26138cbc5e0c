/**
 * A local anvil chain (npm @foundry-rs/anvil-<platform>, the binary of @foundry-rs/anvil), started
 * on a free loopback port. Used by
 * `haithe dev`, the tests and the benchmarks.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'

const require = createRequire(import.meta.url)

/** anvil's well-known first dev account: the deployer and server key on a local chain. */
export const ANVIL_DEPLOYER_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80' as const
export const ANVIL_CHAIN_ID = 31337

export interface AnvilOptions {
  chainId?: number
  /** Seconds between blocks; unset means a block per transaction (automine). */
  blockTime?: number
  gasLimit?: bigint
  /** Persist the chain to this file (loaded at start, dumped periodically and on exit). */
  statePath?: string
  startTimeoutMs?: number
}

export interface Anvil {
  rpcUrl: string
  port: number
  pid: number
  stop(): Promise<void>
}

export class AnvilStartError extends Error {
  override name = 'AnvilStartError'
}

function anvilBinary(): string {
  const pkg = `@foundry-rs/anvil-${process.platform === 'win32' ? 'win32' : process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`
  try {
    return require.resolve(`${pkg}/bin/anvil${process.platform === 'win32' ? '.exe' : ''}`)
  } catch {
    // package.json lists only the linux-x64 build (the others are not on every registry mirror).
    throw new AnvilStartError(`anvil binary for ${process.platform}/${process.arch} not installed: run \`npm install --no-save ${pkg}@1.7.1\``)
  }
}

export async function startAnvil(options: AnvilOptions = {}): Promise<Anvil> {
  const args = ['--host', '127.0.0.1', '--port', '0', '--chain-id', String(options.chainId ?? ANVIL_CHAIN_ID)]
  if (options.blockTime !== undefined) args.push('--block-time', String(options.blockTime))
  if (options.gasLimit !== undefined) args.push('--gas-limit', options.gasLimit.toString())
  if (options.statePath) args.push('--state', options.statePath, '--state-interval', '5', '--preserve-historical-states')

  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const stderr: string[] = []
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()))

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new AnvilStartError('anvil did not start listening in time')), options.startTimeoutMs ?? 30_000)
    const lines = createInterface({ input: child.stdout })
    const fail = (err: Error) => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(err)
    }
    lines.on('line', (line) => {
      const match = /Listening on [\d.]+:(\d+)/.exec(line)
      if (match) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    })
    child.once('exit', (code) => fail(new AnvilStartError(`anvil exited with code ${code}: ${stderr.join('').trim()}`)))
    child.once('error', fail)
  })
  // anvil logs every request on stdout: keep draining it so the pipe never fills.
  child.stdout.resume()
  // However this process ends (an uncaught error, process.exit), the chain goes with it.
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  child.once('exit', () => process.removeListener('exit', killOnExit))

  return {
    rpcUrl: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    stop: () => stopChild(child),
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    child.once('exit', () => {
      clearTimeout(killer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
