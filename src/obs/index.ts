export { createLogger, redactedPaths, type Logger, type LoggerOptions } from './logger.js'
export { createMetricsRegistry, type Registry } from './metrics.js'
export { createShutdown, sleepUnlessAborted, type Shutdown } from './shutdown.js'
