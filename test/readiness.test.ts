import { describe, expect, it } from 'vitest'
import { evaluateReadiness } from '../src/api/index.js'

describe('readiness', () => {
  it('is ready only when every check passes, and says which failed', async () => {
    const report = await evaluateReadiness([
      { name: 'database', check: async () => 'pglite' },
      { name: 'chain', check: async () => { throw new Error('connection refused') } },
    ])
    expect(report.ready).toBe(false)
    expect(report.checks.database).toEqual({ ready: true, detail: 'pglite' })
    expect(report.checks.chain).toEqual({ ready: false, detail: 'connection refused' })
  })

  it('treats a check that does not answer in time as not ready', async () => {
    const report = await evaluateReadiness([{ name: 'slow', check: () => new Promise(() => {}) }], 50)
    expect(report).toEqual({ ready: false, checks: { slow: { ready: false, detail: 'no answer within 50 ms' } } })
  })

  it('is not ready with no checks registered yet', async () => {
    expect((await evaluateReadiness([])).ready).toBe(false)
  })
})
