import { z } from 'zod'
import { AllowHostsEntryError, createHostAllowlist } from '../write/inference/tools/outbound-guard.js'

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address').transform((a) => a.toLowerCase() as `0x${string}`)
const port = z.coerce.number({ error: 'must be a TCP port number' }).int('must be a whole number').min(0, 'must be a TCP port (1-65535, or 0 for any free port)').max(65535, 'must be a TCP port (1-65535, or 0 for any free port)')
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
const postgresUrl = z.url({ protocol: /^postgres(ql)?$/, error: 'must be a PostgreSQL URL such as postgres://user:password@host:5432/database' })
const redisUrl = z.url({ protocol: /^rediss?$/, error: 'must be a Redis URL such as redis://127.0.0.1:6379' })
/** A secp256k1 private key; "0x" is optional as in v1's SERVER_PVT_KEY, normalised to 0x-prefixed. */
const privateKey = z
  .string()
  .regex(/^(0x)?[0-9a-fA-F]{64}$/, 'must be a 32-byte hex private key (64 hex digits, optionally 0x-prefixed)')
  .transform((k) => (k.startsWith('0x') ? k : `0x${k}`) as `0x${string}`)

const provider = z.object({ apiKey: z.string().min(1).nullable(), baseUrl: httpUrl.nullable() })

export const chainSchema = z.object({
  name: z.string().min(1),
  chainId: z.coerce.number().int().positive(),
  rpcUrl: httpUrl,
  explorerUrl: httpUrl.nullable(),
  nativeCurrency: z.object({ name: z.string(), symbol: z.string(), decimals: z.number().int() }),
  /** Test chains allow the tUSDT faucet and the market simulator. */
  testnet: z.boolean(),
  /** Blocks after which a block is final: a reorg deeper than this stops the indexer. */
  finalityDepth: z.number().int().min(0),
  pollingIntervalMs: z.number().int().positive(),
  contracts: z.object({
    tusdt: address,
    orchestrator: address,
    creatorIdentity: address,
    startBlock: z.number().int().min(0),
  }),
})

export const simulatorWeightsSchema = z.object({
  registerCreator: z.number().min(0),
  publishProduct: z.number().min(0),
  createOrganization: z.number().min(0),
  fundOrganization: z.number().min(0),
  enableProduct: z.number().min(0),
  disableProduct: z.number().min(0),
  changePrice: z.number().min(0),
  settleUsage: z.number().min(0),
  withdrawFunds: z.number().min(0),
  transferOwnership: z.number().min(0),
})

export const configSchema = z.object({
  chain: chainSchema,
  dataDir: z.string().min(1),
  database: z.object({
    url: postgresUrl.nullable(),
    readUrl: postgresUrl.nullable(),
    statementTimeoutMs: z.coerce.number().int().positive(),
  }),
  api: z.object({
    host: z.string().min(1),
    port,
    corsOrigins: z.array(z.string()),
    /** A request still running after this long is answered 503. */
    requestTimeoutMs: z.coerce.number().int().positive(),
    rateLimit: z.object({
      /** Requests per minute per IP address, anonymous callers. */
      anonymousPerMinute: z.coerce.number().int().positive(),
      /** Requests per minute for a caller identified by an API key or a wallet signature. */
      identifiedPerMinute: z.coerce.number().int().positive(),
    }),
    /** Keys that identify a caller to the read API (READ_API_KEYS, comma-separated). Never logged. */
    apiKeys: z.array(z.string().min(16, 'each read API key must be at least 16 characters')),
    /** The hot cache: at most this many entries and this many bytes of JSON. */
    cache: z.object({ maxEntries: z.coerce.number().int().positive(), maxBytes: z.coerce.number().int().positive() }),
  }),
  gateway: z.object({
    host: z.string().min(1),
    port,
    /** A request still running after this long is answered 503. */
    requestTimeoutMs: z.coerce.number().int().positive(),
    /** The same for inference calls (/api/v1beta/openai), which may stream for minutes. */
    inferenceTimeoutMs: z.coerce.number().int().positive(),
    /** Blocks on top of a server transaction's block before the outbox calls it confirmed. */
    confirmations: z.coerce.number().int().min(0),
    /** A server transaction unmined this long is replaced with a higher fee. */
    stuckAfterMs: z.coerce.number().int().positive(),
    /** How long POST /orgs and POST /products wait for the indexer before answering 202 pending. */
    indexWaitMs: z.coerce.number().int().min(0),
    /** tUSDT base units the faucet sends (decimal string). */
    faucetAmount: z.string().regex(/^[0-9]+$/, 'must be a whole number of tUSDT base units'),
    /** Between two settlement rounds (settleUsage batches of charged calls); 0 turns the settler off. */
    settlementIntervalMs: z.coerce.number().int().min(0),
    /** Charged ledger lines per settleUsage batch at most. */
    settlementMaxLinesPerBatch: z.coerce.number().int().positive(),
    /** Domains a SIWE message may name besides the request's own Host (SIWE_DOMAINS, comma-separated). */
    siweDomains: z.array(z.string().min(1)),
  }),
  /** Webhook receivers at /api/v1beta/webhook/<name>; a receiver without a secret refuses every delivery. */
  webhooks: z.record(
    z.string().regex(/^[a-z0-9-]+$/, 'webhook provider names are lowercase letters, digits and dashes'),
    z.object({
      /** `stripe`: `<header>: t=<unix>,v1=<hex hmac of "t.body">`; `header`: `<header>: <hex hmac of body>`. */
      scheme: z.enum(['stripe', 'header']),
      header: z.string().min(1),
      secret: z.string().min(16, 'a webhook secret must be at least 16 characters').nullable(),
      toleranceSeconds: z.number().int().positive(),
    }),
  ),
  tee: z.object({
    attestationUrl: httpUrl.nullable(),
    /** Decrypts products' content (OpenPGP, symmetric); without it encrypted products cannot be used. Never logged. */
    secret: z.string().min(16, 'the TEE secret must be at least 16 characters').nullable(),
  }),
  /** What shapes an inference call besides the request: products' content, tools, knowledge, memory. */
  inference: z.object({
    /** `ipfs://<cid>/<path>` is fetched as `<ipfsGateway><cid>/<path>`. */
    ipfsGateway: httpUrl,
    /**
     * Destinations allowed although loopback, private or link-local (INFERENCE_ALLOW_HOSTS,
     * comma-separated): a host name, `host:port`, an IP address or a CIDR block. Everything else
     * of that kind is refused to product content fetches and tools.
     */
    allowHosts: z.array(z.string().min(1)).superRefine((entries, ctx) => {
      try {
        createHostAllowlist(entries)
      } catch (err) {
        if (!(err instanceof AllowHostsEntryError)) throw err
        ctx.addIssue({ code: 'custom', message: `"${err.entry}" is not a host name, host:port, [IPv6]:port, IP address or CIDR block` })
      }
    }),
    /** Fetching a product's content. */
    contentTimeoutMs: z.coerce.number().int().positive(),
    maxContentBytes: z.coerce.number().int().positive(),
    /** One tool call (an RPC tool's request, a web search). */
    toolTimeoutMs: z.coerce.number().int().positive(),
    maxToolResponseBytes: z.coerce.number().int().positive(),
    /** Upstream rounds a call may spend running the gateway's tools before it answers. */
    maxToolRounds: z.coerce.number().int().min(1).max(10),
    /** Knowledge chunks injected into a call at most. */
    knowledgeChunks: z.coerce.number().int().min(1).max(20),
    /** Messages of a conversation's memory sent with each call. */
    memoryWindow: z.coerce.number().int().min(1).max(200),
  }),
  /** Web search for projects that enable it; `none` turns it off. */
  search: z.object({
    provider: z.enum(['none', 'tavily', 'brave', 'searxng'], { error: 'must be none, tavily, brave or searxng' }),
    baseUrl: httpUrl.nullable(),
    apiKey: z.string().min(1).nullable(),
  }),
  grpc: z.object({ host: z.string().min(1), port }),
  indexer: z.object({
    /** Health and metrics of `haithe indexer`. */
    port,
    concurrency: z.number().int().min(1).max(32),
    initialBlocks: z.number().int().min(1),
    maxBlocks: z.number().int().min(1),
    targetLogs: z.number().int().min(100),
    batchEvents: z.number().int().min(1),
    rpcTimeoutMs: z.number().int().min(100),
  }),
  log: z.object({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], { error: 'must be one of trace, debug, info, warn, error, fatal, silent' }),
    format: z.enum(['auto', 'json', 'pretty'], { error: 'must be auto, json or pretty' }),
  }),
  auth: z.object({ jwtSecret: z.string().min(32, 'must be at least 32 characters').nullable() }),
  signer: z.object({ privateKey: privateKey.nullable() }),
  redisUrl: redisUrl.nullable(),
  providers: z.object({
    google: provider,
    groq: provider,
    openai: provider,
    deepseek: provider,
    moonshot: provider,
    custom: provider,
  }),
  simulator: z.object({
    seed: z.coerce.number().int().min(0),
    actionsPerSecond: z.coerce.number().positive(),
    weights: simulatorWeightsSchema,
  }),
})

export type HaitheConfig = z.infer<typeof configSchema>
export type ChainConfig = z.infer<typeof chainSchema>
export type SimulatorWeights = z.infer<typeof simulatorWeightsSchema>
