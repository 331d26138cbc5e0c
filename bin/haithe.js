#!/usr/bin/env node
// The `haithe` command runs its TypeScript from a bundle it builds itself when a source changed
// (cli-bundle.js), so a fresh clone needs no build step.
//
// `haithe indexer` runs in a worker thread with a heap limit (HAITHE_INDEXER_HEAP_MB, default 768):
// with the main thread's default limit (GBs on a large machine) V8 lets a backfill's short-lived
// garbage grow the process past 600 MB before collecting it; under a limit it collects sooner (peak
// about 390 MB in bench:indexer) at the same speed. Its young generation is larger than V8's default
// (HAITHE_INDEXER_YOUNG_MB, default 128): a backfill holds tens of thousands of parsed logs between
// fetch and commit, which a small young generation copies and promotes again and again (about a
// tenth of the indexer's CPU in bench:indexer, for some 40 MB more peak RSS). Its old generation
// may grow to three times what survived the last full collection before the next one
// (HAITHE_INDEXER_HEAP_GROWTH, percent, default 200; V8 picks less, for short pauses): the tens of
// thousands of logs and rows that outlive a few young collections die soon after, and V8's own choice
// collected them every quarter of a second, a quarter of the indexer's CPU (bench:indexer: 63 → 16
// full collections; peak RSS 395–413 MB; at 300, 458–499 MB and no faster). V8 flags are
// process-wide, so it is set here, before the worker starts. The main thread only passes signals on
// and the exit code back.
import { setFlagsFromString } from 'node:v8'
import { Worker, isMainThread, parentPort } from 'node:worker_threads'
import { importCli } from './cli-bundle.js'

if (isMainThread && process.argv[2] === 'indexer') {
  const heapMb = Number(process.env.HAITHE_INDEXER_HEAP_MB ?? 768)
  const youngMb = Number(process.env.HAITHE_INDEXER_YOUNG_MB ?? 128)
  setFlagsFromString(`--heap-growing-percent=${Number(process.env.HAITHE_INDEXER_HEAP_GROWTH ?? 200)}`)
  // A worker's stdout is not a TTY even when the terminal is: the logger reads this instead.
  process.env.HAITHE_STDOUT_TTY = process.stdout.isTTY ? '1' : '0'
  const worker = new Worker(new URL(import.meta.url), { argv: process.argv.slice(2), resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: youngMb } })
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => worker.postMessage({ signal }))
  worker.on('error', (err) => {
    console.error(err)
    process.exitCode = 1
  })
  worker.on('exit', (code) => process.exit(process.exitCode ?? code))
} else {
  if (!isMainThread) {
    // Signals reach the main thread only: the CLI's handlers hear them from here.
    parentPort.on('message', (message) => message?.signal && process.emit(message.signal, message.signal))
    parentPort.unref()
  }
  await importCli()
}
