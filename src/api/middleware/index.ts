/**
 * The read API's middleware, one concern a file. Intended order, outermost first:
 *
 *   app.use(createRequestId({ logger }))                 // X-Request-Id, ctx.state.logger
 *   app.use(createAccessLog({ logger }))                 // one line per request, final status
 *   app.use(createHttpMetrics({ registry: metrics }))    // http_request_duration_seconds
 *   app.use(createCors({ origins: config.api.corsOrigins }))  // error responses carry CORS too
 *   app.use(createErrorBoundary({ logger }))             // every error as { error: { code, message } }
 *   app.use(createRequestTimeout({ timeoutMs: config.api.requestTimeoutMs, logger }))
 *   app.use(rateLimit)                                   // identifies the caller, then spends its budget
 *   app.use(router.routes()).use(router.allowedMethods())
 *
 * with
 *
 *   const rateLimit = createRateLimit({
 *     ...config.api.rateLimit, redisUrl: config.redisUrl, logger,
 *     identifier: createCallerIdentifier({ apiKeys: config.api.apiKeys }),
 *   })
 *   shutdown.add('rate limiter', () => rateLimit.close())
 *
 * Behind a load balancer set `app.proxy = true` so ctx.ip (the anonymous budget's key) is the
 * client's address from X-Forwarded-For, not the balancer's.
 */
export type { ApiState, Caller } from './state.js'
export { createRequestId, requestIdFor, type RequestIdOptions } from './request-id.js'
export { createAccessLog, defaultQuietPaths, type AccessLogOptions } from './access-log.js'
export { createHttpMetrics, createRequestObserver, type HttpMetricsOptions, type ObserveRequest } from './http-metrics.js'
export { corsAnswerHeaders, createCors, createCorsPolicy, type CorsOptions, type CorsPolicy } from './cors.js'
export { ApiError, clearEntityHeaders, createErrorBoundary, errorBody, writeError, type ErrorBody, type ErrorBoundaryOptions } from './errors.js'
export { createRequestTimeout, RequestTimeoutError, type RequestTimeoutOptions } from './timeout.js'
export { createCallerIdentifier, walletMessage, type CallerIdentifier, type CallerIdentifierOptions } from './caller-identity.js'
export { createRateLimit, defaultExemptPaths, type RateLimitMiddleware, type RateLimitOptions } from './rate-limit.js'
export { routePattern } from './route.js'
