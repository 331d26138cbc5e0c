/**
 * Runs the real `haithe` command (`node bin/haithe.js ...`) from the repository root, as a user
 * would. Each process leads its own process group, so cleanup can take down what it started too
 * (anvil) even when the test failed half-way:
 *
 *   afterAll(() => stopAllHaithe())
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { envOverrides } from '../../src/config/index.js'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** One line of the JSON log (pino): `msg` plus the fields logged with it. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number }

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface HaitheProcess {
  child: ChildProcess
  /** Also the id of its process group. */
  pid: number
  stdout(): string
  stderr(): string
  /** The JSON lines of stdout so far. */
  logs(): LogLine[]
  /** Resolves when the process has exited and its output is closed. */
  exited: Promise<Exit>
  hasExited(): boolean
  /** Waits (bounded) for a log line matching `match`; fails early if the process exits. */
  waitForLog(match: (line: LogLine) => boolean, options: { timeoutMs: number; what: string }): Promise<LogLine>
  /** SIGKILLs the whole process group (the CLI and anything it started) and waits for the exit. */
  kill(): Promise<void>
}

const started = new Set<HaitheProcess>()

// Last resort when the test process goes away without its hooks (an interrupted run): the
// groups are detached, so nothing else would stop them.
process.once('exit', () => {
  for (const proc of started) signalGroup(proc.pid, 'SIGKILL')
})

/**
 * The environment of a user with nothing configured: process.env without any of the variables
 * the configuration reads (DATABASE_URL, PORT, HAITHE_CHAIN, ...), plus `extra`.
 */
export function haitheEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of [...Object.keys(envOverrides), 'HAITHE_CHAIN', 'HAITHE_CONFIG_FILE']) delete env[name]
  return { ...env, ...extra }
}

/** A TCP port that was free a moment ago (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function parseLogLine(line: string): LogLine | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    return JSON.parse(line) as LogLine
  } catch {
    return undefined
  }
}

/** Sends `signal` to the process group `pgid`; false when no process is left in it. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw error
  }
}

export function startHaithe(args: string[], env: NodeJS.ProcessEnv): HaitheProcess {
  const child = spawn(process.execPath, ['bin/haithe.js', ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  if (child.pid === undefined) throw new Error(`could not start haithe ${args.join(' ')}`)
  const pid = child.pid
  let stdout = ''
  let stderr = ''
  let partial = ''
  const logs: LogLine[] = []
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      const parsed = parseLogLine(line)
      if (parsed) logs.push(parsed)
    }
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  let done = false
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      done = true
      const last = parseLogLine(partial)
      if (last) logs.push(last)
      resolve({ code, signal })
    })
  })

  const proc: HaitheProcess = {
    child,
    pid,
    stdout: () => stdout,
    stderr: () => stderr,
    logs: () => logs,
    exited,
    hasExited: () => done,
    async waitForLog(match, { timeoutMs, what }) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = logs.find(match)
        if (found) return found
        if (done) throw new Error(`haithe ${args.join(' ')} exited before logging ${what}; stderr: ${stderr.slice(-2000)}`)
        if (Date.now() > deadline) throw new Error(`haithe ${args.join(' ')} did not log ${what} within ${timeoutMs} ms; last lines: ${stdout.slice(-2000)}`)
        await sleep(100)
      }
    },
    async kill() {
      signalGroup(pid, 'SIGKILL')
      await exited
      started.delete(proc)
    },
  }
  started.add(proc)
  return proc
}

/** Runs `haithe args` to its end (SIGKILLed after `timeoutMs`). */
export async function runHaithe(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 90_000,
): Promise<Exit & { stdout: string; stderr: string; logs: LogLine[] }> {
  const proc = startHaithe(args, env)
  const timer = setTimeout(() => void proc.kill(), timeoutMs)
  try {
    const exit = await proc.exited
    if (exit.signal === 'SIGKILL') throw new Error(`haithe ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${proc.stderr().slice(-2000)}`)
    return { ...exit, stdout: proc.stdout(), stderr: proc.stderr(), logs: proc.logs() }
  } finally {
    clearTimeout(timer)
    // Whatever it started and left behind (it should leave nothing).
    signalGroup(proc.pid, 'SIGKILL')
    started.delete(proc)
  }
}

/** Kills every process group started here that is still alive. */
export async function stopAllHaithe(): Promise<void> {
  await Promise.all([...started].map((proc) => proc.kill()))
}
