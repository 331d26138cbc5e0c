/** Polls `read` every 100 ms until `done` holds (the indexer and the outbox work in the background); fails after 60 s saying what it last saw. */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline) {
      throw new Error(`${what}: still ${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))} after ${timeoutMs / 1000} s`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}
