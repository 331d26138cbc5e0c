/**
 * The fake OpenAI-compatible upstream of `npm run bench:gateway`, in its own process so that it
 * competes with neither the load generator nor the gateway: answers at once, prints its URL.
 */
import { startFakeUpstream } from '../../test/support/fake-upstream.js'

const upstream = await startFakeUpstream()
// The bench sends tens of thousands of requests: keep no record of them.
setInterval(() => void (upstream.requests.length = 0), 1_000).unref()
process.stdout.write(`${JSON.stringify({ url: upstream.url })}\n`)
process.on('SIGTERM', () => void upstream.close().then(() => process.exit(0)))
