/**
 * The products of a call, loaded for use: content fetched (fetch-uri.ts), decrypted
 * (decrypt.ts) and turned into what shapes the answer — prompt lines, a knowledge index, RPC
 * tools. A product's content is cached per product and uri (products are immutable on chain
 * but for their price); knowledge is indexed once per content digest. A product that cannot be
 * used (unreachable, undecryptable, malformed, a category the gateway does not run) is left out
 * of the call, and so not charged, with the reason logged.
 */
import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { Address } from 'viem'
import { haitheProductAbi } from '../../../chain/index.js'
import type { WriteContext } from '../../context.js'
import { chunkText, ensureKnowledgeIndexed, loadKnowledgeText } from '../knowledge/index.js'
import { parseRpcTools, type RpcTool } from '../tools/index.js'
import type { UsableProduct } from '../../projects/queries.js'
import { decryptProductContent } from './decrypt.js'
import { ProductUnavailableError } from './errors.js'
import { fetchUri } from './fetch-uri.js'

export type AppliedProduct = UsableProduct &
  (
    | { use: 'prompts'; lines: string[] }
    | { use: 'knowledge'; version: string }
    | { use: 'tools'; tools: RpcTool[] }
  )

export interface SkippedProduct {
  product: UsableProduct
  reason: string
}

export interface ProductLoader {
  load(products: readonly UsableProduct[]): Promise<{ applied: AppliedProduct[]; skipped: SkippedProduct[] }>
}

const KNOWLEDGE = new Set(['knowledge:text', 'knowledge:html', 'knowledge:pdf', 'knowledge:csv', 'knowledge:url'])
/** Content is fetched again after this long (an https or ipfs document may change behind its uri). */
const CONTENT_TTL_MS = 10 * 60_000
/** A failure is remembered this long, so a dead uri does not slow every call. */
const FAILURE_TTL_MS = 30_000

type Loaded = { ok: true; product: AppliedProduct } | { ok: false; reason: string }

const utf8 = new TextDecoder('utf-8')

export function parsePromptset(text: string): string[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new ProductUnavailableError('a promptset must be a JSON array of strings; its content is not JSON')
  }
  if (!Array.isArray(parsed) || !parsed.every((line) => typeof line === 'string')) {
    throw new ProductUnavailableError('a promptset must be a JSON array of strings')
  }
  return parsed.map((line) => line.trim()).filter((line) => line.length > 0)
}

export function createProductLoader(w: Pick<WriteContext, 'db' | 'chain' | 'config' | 'publicClient' | 'logger'>): ProductLoader {
  const options = w.config.inference
  const cache = new LRUCache<string, Promise<Loaded>>({ max: 1000, ttl: CONTENT_TTL_MS })

  async function use(product: UsableProduct): Promise<AppliedProduct> {
    const { category } = product
    if (category !== 'promptset' && category !== 'tool:rpc' && !KNOWLEDGE.has(category)) {
      throw new ProductUnavailableError(`its category ${category} is not run by this gateway`)
    }
    const fetched = await fetchUri(product.uri, options)
    const content = await decryptProductContent(fetched.body, {
      teeSecret: w.config.tee.secret,
      productKey: () => w.publicClient.readContract({ address: product.address as Address, abi: haitheProductAbi, functionName: 'encryptedKeyForTEE' }),
    })
    if (category === 'promptset') return { ...product, use: 'prompts', lines: parsePromptset(utf8.decode(content)) }
    if (category === 'tool:rpc') return { ...product, use: 'tools', tools: parseRpcTools(utf8.decode(content), product.name) }
    const version = createHash('sha256').update(product.uri).update(content).digest('hex').slice(0, 32)
    await ensureKnowledgeIndexed(w.db, { chainId: w.chain.chainId, product: product.address, version }, async () =>
      // A knowledge:url product's pages are fetched under the same rules as products' content.
      chunkText(await loadKnowledgeText(category, content, (url) => fetchUri(url, options))))
    return { ...product, use: 'knowledge', version }
  }

  async function loadOne(product: UsableProduct): Promise<Loaded> {
    const key = `${product.address}:${product.uri}`
    let entry = cache.get(key)
    if (!entry) {
      entry = use(product).then(
        (applied): Loaded => ({ ok: true, product: applied }),
        (err: unknown): Loaded => {
          cache.set(key, entry!, { ttl: FAILURE_TTL_MS })
          const reason = err instanceof Error ? err.message : String(err)
          w.logger.warn({ product: product.address, category: product.category, reason }, 'a product is left out of inference calls')
          return { ok: false, reason }
        },
      )
      cache.set(key, entry)
    }
    const loaded = await entry
    // The price is the index's current one, not the cached one.
    return loaded.ok ? { ok: true, product: { ...loaded.product, price: product.price } } : loaded
  }

  return {
    async load(products) {
      const results = await Promise.all(products.map(loadOne))
      const applied: AppliedProduct[] = []
      const skipped: SkippedProduct[] = []
      results.forEach((r, i) => (r.ok ? applied.push(r.product) : skipped.push({ product: products[i]!, reason: r.reason })))
      return { applied, skipped }
    },
  }
}
