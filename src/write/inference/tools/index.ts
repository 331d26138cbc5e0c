export { ProductContentError } from './errors.js'
export {
  AllowHostsEntryError,
  DestinationRefusedError,
  classifyAddress,
  createHostAllowlist,
  normalizeAddress,
  type AddressClass,
  type HostAllowlist,
} from './outbound-guard.js'
export { OutboundRequestError, guardedFetch, type GuardedFetchOptions, type GuardedResponse, type OutboundErrorCode } from './guarded-fetch.js'
export { parseRpcTools, rpcToolDefinition, runRpcTool, type OpenAiFunctionTool, type RpcTool, type RunRpcToolOptions } from './rpc-tool.js'
export { createWebSearch, type WebSearch, type WebSearchOptions } from './web-search.js'
export { createToolSet, type GatewayTool, type ToolSet } from './tool-set.js'
