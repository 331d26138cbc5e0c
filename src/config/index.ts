export { loadConfig, ConfigError, type LoadConfigOptions } from './load.js'
export { envOverrides } from './env.js'
export { packageRoot } from './paths.js'
export type { HaitheConfig, ChainConfig, SimulatorWeights } from './schema.js'
