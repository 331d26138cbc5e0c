/**
 * The small context every long-running part receives instead of globals: configuration,
 * logger, metrics registry and shutdown.
 */
import type { HaitheConfig } from './config/index.js'
import { createLogger, createMetricsRegistry, createShutdown, type Logger, type Registry, type Shutdown } from './obs/index.js'

export interface Context {
  config: HaitheConfig
  logger: Logger
  metrics: Registry
  shutdown: Shutdown
}

export function createContext(config: HaitheConfig, name?: string): Context {
  const logger = createLogger({ level: config.log.level, format: config.log.format, ...(name ? { name } : {}) })
  return { config, logger, metrics: createMetricsRegistry(), shutdown: createShutdown(logger) }
}
