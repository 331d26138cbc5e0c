/** The group commit under billing: batching by arrival, each caller's own outcome, failures. */
import { describe, expect, it } from 'vitest'
import { createGroupCommit } from '../src/write/billing/group-commit.js'

/** A writer that records its batches and answers each item with `answer(item)` after `release()`. */
function recordingWriter(answer: (item: number) => PromiseSettledResult<string> = (item) => ({ status: 'fulfilled', value: `#${item}` })) {
  const batches: number[][] = []
  let release: () => void = () => {}
  const write = async (items: readonly number[]) => {
    batches.push([...items])
    await new Promise<void>((resolve) => (release = resolve))
    return items.map(answer)
  }
  return { batches, write, release: () => release() }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('group commit', () => {
  it('writes a lone item at once, and the items that arrive during a write together in the next batch', async () => {
    const writer = recordingWriter()
    const add = createGroupCommit({ write: writer.write })
    const first = add(1)
    await tick()
    expect(writer.batches).toEqual([[1]])
    const later = [add(2), add(3), add(4)]
    await tick()
    expect(writer.batches).toEqual([[1]]) // waiting for the write in flight
    writer.release()
    expect(await first).toBe('#1')
    await tick()
    expect(writer.batches).toEqual([[1], [2, 3, 4]])
    writer.release()
    expect(await Promise.all(later)).toEqual(['#2', '#3', '#4'])
  })

  it('caps a batch at maxBatch items', async () => {
    const writer = recordingWriter()
    const add = createGroupCommit({ write: writer.write, maxBatch: 2 })
    const all = [add(1), add(2), add(3), add(4), add(5)]
    for (let i = 0; i < 4; i++) {
      await tick()
      writer.release()
    }
    expect(await Promise.all(all)).toEqual(['#1', '#2', '#3', '#4', '#5'])
    expect(writer.batches).toEqual([[1], [2, 3], [4, 5]])
  })

  it('gives each caller its own outcome, and every caller of a batch the error of a writer that throws', async () => {
    const writer = recordingWriter((item) => (item % 2 === 0 ? { status: 'rejected', reason: new Error(`even ${item}`) } : { status: 'fulfilled', value: `#${item}` }))
    const add = createGroupCommit({ write: writer.write })
    const outcomes = Promise.allSettled([add(1), add(2), add(3)])
    await tick()
    writer.release()
    await tick()
    writer.release()
    expect((await outcomes).map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual(['#1', 'even 2', '#3'])

    let calls = 0
    const failing = createGroupCommit<number, string>({ write: async () => { calls++; throw new Error('database gone') } })
    const failed = await Promise.allSettled([failing(1), failing(2)])
    expect(failed.map((o) => o.status === 'rejected' && (o.reason as Error).message)).toEqual(['database gone', 'database gone'])
    // The queue goes on after a failure.
    await expect(failing(3)).rejects.toThrow('database gone')
    expect(calls).toBe(3)
  })

  it('refuses a writer that answers for fewer items than it was given', async () => {
    const add = createGroupCommit<number, number>({ write: async () => [] })
    await expect(add(1)).rejects.toThrow('the batch writer returned 0 outcomes for 1 items')
  })
})
