export { createApiServer, type ApiServer } from './server.js'
export { createOperationsServer, PortInUseError, type OperationsServer } from './operations-server.js'
export { addOperationsRoutes, evaluateReadiness, type ReadinessCheck, type ReadinessReport } from './health.js'
export { operationId, toSchema, type JsonSchema } from './openapi.js'
