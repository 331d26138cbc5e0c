/**
 * The read API's gRPC server: MarketplaceService, AnalyticsService and IndexerService over the
 * read side, the standard health service (grpc.health.v1.Health) and server reflection (v1 and
 * v1alpha), so grpcurl and Postman work without the .proto files.
 *
 *   const grpc = createGrpcServer({ reads, feed, logger, metrics })
 *   const { port } = await grpc.listen('0.0.0.0', 50051)
 *   grpc.setServing(indexerReady)   // health: NOT_SERVING while the index is not ready
 *   await grpc.close()              // ends open streams, then shuts down
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { Server, ServerCredentials, status } from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { ReflectionService } from '@grpc/reflection'
import { HealthImplementation } from 'grpc-health-check'
import { Counter } from 'prom-client'
import { packageRoot } from '../config/index.js'
import type { Logger, Registry } from '../obs/index.js'
import type { EventFeed, Reads } from '../read/index.js'
import { ANALYTICS_SERVICE, analyticsService } from './analytics.js'
import type { ServiceContext } from './calls.js'
import { AnalyticsServiceService } from './gen/haithe/v1/analytics.js'
import { IndexerServiceService } from './gen/haithe/v1/indexer.js'
import { MarketplaceServiceService } from './gen/haithe/v1/marketplace.js'
import { createStreamRegistry, INDEXER_SERVICE, indexerService } from './indexer-service.js'
import { MARKETPLACE_SERVICE, marketplaceService } from './marketplace.js'

export const SERVICE_NAMES = [MARKETPLACE_SERVICE, ANALYTICS_SERVICE, INDEXER_SERVICE] as const
export const PROTO_FILES = ['haithe/v1/common.proto', 'haithe/v1/marketplace.proto', 'haithe/v1/analytics.proto', 'haithe/v1/indexer.proto'] as const

export interface GrpcServerOptions {
  reads: Reads
  feed: EventFeed
  logger: Logger
  /** Registry for grpc_server_handled_total (by service, method and status code). */
  metrics?: Registry
  /** How long close() lets calls in flight finish before cancelling them; default 5 s. */
  shutdownGraceMs?: number
}

export interface GrpcServer {
  server: Server
  /** Binds and starts serving; port 0 picks a free port, returned. */
  listen(host: string, port: number): Promise<{ port: number }>
  /** Health status of the whole server ('') and of each service: SERVING or NOT_SERVING. */
  setServing(serving: boolean): void
  /** Marks NOT_SERVING, ends open event streams (status OK), lets unary calls finish, then stops. */
  close(): Promise<void>
}

export class GrpcPortInUseError extends Error {
  override name = 'GrpcPortInUseError'
}

const require = createRequire(import.meta.url)

/** The directory of grpc-health-check's health.proto (its `protoPath` is …/proto/health/v1/health.proto). */
function healthProtoRoot(): string {
  const { protoPath } = require('grpc-health-check') as { protoPath: string }
  return path.resolve(path.dirname(protoPath), '../..')
}

/** Our .proto files plus health.proto, as proto-loader sees them: what reflection describes. */
function reflectedPackage() {
  const protoRoot = path.join(packageRoot(), 'proto')
  if (!existsSync(path.join(protoRoot, PROTO_FILES[0]))) throw new Error(`gRPC reflection: ${protoRoot} holds no ${PROTO_FILES[0]}`)
  return loadSync([...PROTO_FILES, 'health/v1/health.proto'], {
    includeDirs: [protoRoot, healthProtoRoot()], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  })
}

function handledCounter(metrics: Registry | undefined): Counter<'grpc_service' | 'grpc_method' | 'grpc_code'> | undefined {
  if (!metrics) return undefined
  const name = 'grpc_server_handled_total'
  const existing = metrics.getSingleMetric(name)
  if (existing) return existing as Counter<'grpc_service' | 'grpc_method' | 'grpc_code'>
  return new Counter({ name, help: 'gRPC calls completed on the server, by service, method and status code.', labelNames: ['grpc_service', 'grpc_method', 'grpc_code'], registers: [metrics] })
}

export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const { reads, feed, logger } = options
  const handled = handledCounter(options.metrics)
  const ctx: ServiceContext = {
    reads, feed, logger,
    record: (service, method, code) => handled?.inc({ grpc_service: service, grpc_method: method, grpc_code: status[code] ?? String(code) }),
  }
  const streams = createStreamRegistry()

  const server = new Server({
    // Long-lived streams: ping idle clients so a vanished one is noticed and its stream ends.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
  })
  server.addService(MarketplaceServiceService, marketplaceService(ctx))
  server.addService(AnalyticsServiceService, analyticsService(ctx))
  server.addService(IndexerServiceService, indexerService(ctx, streams))

  const health = new HealthImplementation(Object.fromEntries(['', ...SERVICE_NAMES].map((name) => [name, 'SERVING' as const])))
  health.addToServer(server)
  new ReflectionService(reflectedPackage()).addToServer(server)

  const setServing = (serving: boolean) => {
    for (const name of ['', ...SERVICE_NAMES]) health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING')
  }

  let closing: Promise<void> | undefined
  return {
    server,
    setServing,
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        const target = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`
        server.bindAsync(target, ServerCredentials.createInsecure(), (error, bound) => {
          if (error) {
            reject(/address already in use|EADDRINUSE/i.test(error.message) ? new GrpcPortInUseError(`gRPC: port ${port} on ${host} is in use`) : error)
            return
          }
          resolve({ port: bound })
        })
      }),
    close() {
      closing ??= (async () => {
        setServing(false)
        await streams.endAll()
        const grace = options.shutdownGraceMs ?? 5_000
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            logger.warn({ graceMs: grace }, 'gRPC: calls still running at shutdown were cancelled')
            server.forceShutdown()
            resolve()
          }, grace)
          server.tryShutdown(() => {
            clearTimeout(timer)
            resolve()
          })
        })
      })()
      return closing
    },
  }
}
