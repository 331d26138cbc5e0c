/**
 * Group commit: each caller adds one item and awaits its own outcome; items that arrive while a
 * batch is being written wait and go together in the next one. A caller alone is written at once
 * (no timer, so no added latency at low load); under load each statement carries as many items
 * as arrived during the previous one, so round trips and commits grow far slower than calls.
 */
export interface GroupCommitOptions<T, R> {
  /** Writes a batch; one settled outcome per item, in the items' order. Throwing fails them all. */
  write(items: readonly T[]): Promise<readonly PromiseSettledResult<R>[]>
  /** At most this many items a batch (default 256). */
  maxBatch?: number
}

interface Pending<T, R> {
  item: T
  resolve(value: R): void
  reject(reason: unknown): void
}

export function createGroupCommit<T, R>(options: GroupCommitOptions<T, R>): (item: T) => Promise<R> {
  const maxBatch = options.maxBatch ?? 256
  const queue: Pending<T, R>[] = []
  let writing = false

  async function drain(): Promise<void> {
    writing = true
    while (queue.length > 0) {
      const batch = queue.splice(0, maxBatch)
      try {
        const outcomes = await options.write(batch.map((p) => p.item))
        batch.forEach((pending, i) => {
          const outcome = outcomes[i]
          if (outcome === undefined) pending.reject(new Error(`group commit: the batch writer returned ${outcomes.length} outcomes for ${batch.length} items`))
          else if (outcome.status === 'fulfilled') pending.resolve(outcome.value)
          else pending.reject(outcome.reason)
        })
      } catch (error) {
        for (const pending of batch) pending.reject(error)
      }
    }
    writing = false
  }

  return (item) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ item, resolve, reject })
      if (!writing) void drain()
    })
}
