import type Router from '@koa/router'
import type { Registry } from '../obs/index.js'

/**
 * Liveness and readiness. `/health` answers 200 as long as the process serves HTTP;
 * `/health/ready` answers 200 only when every registered check passes (503 otherwise, with
 * each check's state), so a load balancer sends traffic only to a replica that can answer.
 */
export interface ReadinessCheck {
  name: string
  /** Resolves with a short detail when ready; rejects (or resolves false) when not. */
  check(): Promise<string | boolean>
}

export interface ReadinessReport {
  ready: boolean
  checks: Record<string, { ready: boolean; detail?: string }>
}

export async function evaluateReadiness(checks: readonly ReadinessCheck[], timeoutMs = 2_000): Promise<ReadinessReport> {
  const entries = await Promise.all(
    checks.map(async ({ name, check }) => {
      let timer: NodeJS.Timeout | undefined
      try {
        const result = await Promise.race([
          check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
          }),
        ])
        return [name, result === false ? { ready: false } : { ready: true, ...(typeof result === 'string' ? { detail: result } : {}) }] as const
      } catch (err) {
        return [name, { ready: false, detail: (err as Error).message }] as const
      } finally {
        clearTimeout(timer)
      }
    }),
  )
  const report = Object.fromEntries(entries)
  return { ready: entries.length > 0 && entries.every(([, e]) => e.ready), checks: report }
}

/** GET /health (liveness), /health/ready (every check) and /metrics (Prometheus), as every server of ours answers them. */
export function addOperationsRoutes(router: Router, checks: readonly ReadinessCheck[], metrics: Registry): void {
  router.get('/health', (c) => {
    c.body = { status: 'ok' }
  })
  router.get('/health/ready', async (c) => {
    const report = await evaluateReadiness(checks)
    c.status = report.ready ? 200 : 503
    c.body = report
  })
  router.get('/metrics', async (c) => {
    c.type = metrics.contentType
    c.body = await metrics.metrics()
  })
}
