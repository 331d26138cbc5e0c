import { pino, type Logger } from 'pino'
import { PinoPretty } from 'pino-pretty'

export type { Logger }

export interface LoggerOptions {
  level: string
  /** auto: readable in a terminal, JSON otherwise (files, pipes, log collectors). */
  format: 'auto' | 'json' | 'pretty'
  name?: string
}

/** Fields that may carry secrets; pino replaces them wherever they appear in a log object. */
export const redactedPaths = [
  'privateKey',
  '*.privateKey',
  'jwtSecret',
  '*.jwtSecret',
  'apiKey',
  '*.apiKey',
  'apiKeys',
  '*.apiKeys',
  '*.*.apiKey',
  'token',
  '*.token',
  'signature',
  '*.signature',
  'password',
  '*.password',
  'secret',
  '*.secret',
  '*.*.secret',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-haithe-signature"]',
]

export function createLogger(options: LoggerOptions): Logger {
  const terminal = process.stdout.isTTY === true || process.env.HAITHE_STDOUT_TTY === '1' // the latter: `haithe indexer`'s worker (bin/haithe.js)
  const readable = options.format === 'pretty' || (options.format === 'auto' && terminal)
  const base = { level: options.level, ...(options.name ? { name: options.name } : {}), redact: { paths: redactedPaths, censor: '[redacted]' } }
  // Pretty-printing in-process and synchronously: nothing is lost when the CLI exits on an error.
  return readable ? pino(base, PinoPretty({ colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', sync: true })) : pino(base)
}
