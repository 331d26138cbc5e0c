import type { Logger } from 'pino'

type Cleanup = () => Promise<void> | void

/**
 * Ordered shutdown: cleanups run in reverse order of registration (last started, first
 * stopped), each at most once, even if shutdown is asked for twice (a second Ctrl-C).
 */
export interface Shutdown {
  /** Aborted when shutdown starts, for loops and requests to stop. */
  signal: AbortSignal
  add(name: string, cleanup: Cleanup): void
  run(reason: string): Promise<void>
}

export function createShutdown(logger: Logger, timeoutMs = 10_000): Shutdown {
  const controller = new AbortController()
  const cleanups: { name: string; cleanup: Cleanup }[] = []
  let running: Promise<void> | undefined

  const runAll = async (reason: string) => {
    logger.info({ reason }, 'shutting down')
    controller.abort(new Error(`shutdown: ${reason}`))
    for (const { name, cleanup } of cleanups.reverse()) {
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([
          cleanup(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`did not stop within ${timeoutMs} ms`)), timeoutMs)
          }),
        ])
      } catch (err) {
        logger.warn({ err }, `stopping ${name} failed`)
      } finally {
        clearTimeout(timer)
      }
    }
  }

  return {
    signal: controller.signal,
    add: (name, cleanup) => void cleanups.push({ name, cleanup }),
    run: (reason) => (running ??= runAll(reason)),
  }
}

/** Waits `ms`, or less if `signal` aborts first (it never rejects). */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
  })
}
