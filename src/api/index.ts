export { createApiServer, PortInUseError, type ApiServer } from './server.js'
export { evaluateReadiness, type ReadinessCheck, type ReadinessReport } from './health.js'
