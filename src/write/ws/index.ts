// The gateway's WebSocket JSON-RPC endpoint (/api/v1beta/ws): sign-in, chat with streamed deltas, organization events.
export { attachRpcSocket, CLOSE_UNAUTHENTICATED, type RpcSocket, type RpcSocketOptions } from './server.js'
export { DEFAULT_RPC_LIMITS, type RpcLimits } from './session.js'
export { RPC_PATH, RpcCode, RpcError, type RpcId } from './protocol.js'
export { rpcCodeOfStatus } from './errors.js'
