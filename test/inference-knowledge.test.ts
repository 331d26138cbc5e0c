import { PDFDocument, StandardFonts } from 'pdf-lib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDatabase, type DatabaseHandle } from '../src/db/index.js'
import {
  chunkText,
  ensureKnowledgeIndexed,
  KnowledgeParseError,
  knowledgeKindOfContentType,
  loadKnowledgeText,
  parseKnowledge,
  searchKnowledge,
} from '../src/write/inference/knowledge/index.js'
import { createTestDatabase, type TestDatabase } from './support/database.js'
import { rejectionOf } from './support/rejection.js'

const backend = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'
const bytes = (text: string) => new TextEncoder().encode(text)

async function pdfOf(pages: string[][]): Promise<Uint8Array> {
  const document = await PDFDocument.create()
  const font = await document.embedFont(StandardFonts.Helvetica)
  for (const lines of pages) {
    const page = document.addPage()
    lines.forEach((line, i) => page.drawText(line, { x: 50, y: 700 - i * 20, size: 12, font }))
  }
  return document.save()
}

const PAGE = `<!doctype html>
<html>
<head>
  <title>Store help</title>
  <style>body { color: red; } .secret-style { display: none }</style>
  <script>window.trackingSecret = "do-not-index"</script>
</head>
<body>
  <nav><a href="/">Home</a> <a href="/cart">Cart menu link</a></nav>
  <h1>Returns and refunds</h1>
  <p>Items can be returned within <b>30 days</b>.</p>
  <p>Refunds reach your card in five days.</p>
  <script>console.log("inline-script-text")</script>
</body>
</html>`

describe('parseKnowledge', () => {
  it('turns an HTML page into its readable text, headings and paragraphs on their own lines', async () => {
    const text = await parseKnowledge('html', bytes(PAGE))
    const lines = text.split('\n').filter((line) => line.trim() !== '')
    expect(lines).toEqual(['Returns and refunds', 'Items can be returned within 30 days.', 'Refunds reach your card in five days.'])
    for (const noise of ['trackingSecret', 'do-not-index', 'inline-script-text', 'color: red', 'secret-style', 'Cart menu link', 'Store help']) {
      expect(text).not.toContain(noise)
    }
  })

  it('extracts the text of every page of a PDF', async () => {
    const pdf = await pdfOf([['Refund policy', 'Refunds take five days.'], ['Second page about shipping.']])
    const text = await parseKnowledge('pdf', pdf)
    expect(text).toContain('Refund policy')
    expect(text).toContain('Refunds take five days.')
    expect(text).toContain('Second page about shipping.')
    expect(text.indexOf('Refund policy')).toBeLessThan(text.indexOf('Second page'))
  })

  it('rejects a malformed PDF with a KnowledgeParseError that names the kind', async () => {
    const notPdf = await rejectionOf(parseKnowledge('pdf', bytes('this is not a pdf at all')))
    expect(notPdf).toBeInstanceOf(KnowledgeParseError)
    expect(notPdf.message).toMatch(/pdf/)
    const truncated = (await pdfOf([['Some text']])).subarray(0, 40)
    expect(await rejectionOf(parseKnowledge('pdf', truncated))).toBeInstanceOf(KnowledgeParseError)
  })

  it('turns a CSV into one "header: value" line per row, with quoted commas kept and blank rows skipped', async () => {
    const csv = 'plan,price,notes\r\nbasic,10,"cheap, limited"\r\n\r\npro,20,"fast, ""priority"" support"\r\n,,\r\nteam,30,\r\n'
    const text = await parseKnowledge('csv', bytes(csv))
    expect(text.split('\n')).toEqual([
      'plan: basic; price: 10; notes: cheap, limited',
      'plan: pro; price: 20; notes: fast, "priority" support',
      'plan: team; price: 30',
    ])
  })

  it('rejects a CSV with an unclosed quote', async () => {
    const error = await rejectionOf(parseKnowledge('csv', bytes('a,b\n1,"never closed\n')))
    expect(error).toBeInstanceOf(KnowledgeParseError)
    expect(error.message).toMatch(/csv/)
  })

  it('decodes UTF-8 text without its byte-order mark, and rejects bytes that are not UTF-8', async () => {
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('Café au lait')])
    expect(await parseKnowledge('text', withBom)).toBe('Café au lait')
    const error = await rejectionOf(parseKnowledge('text', new Uint8Array([0x66, 0xff, 0xfe, 0x6f])))
    expect(error).toBeInstanceOf(KnowledgeParseError)
    expect(error.message).toMatch(/text/)
  })
})

describe('knowledge:url', () => {
  it('knows a body kind by content type, then by file extension, then by its first bytes', () => {
    expect(knowledgeKindOfContentType('application/pdf', 'https://x.test/page')).toBe('pdf')
    expect(knowledgeKindOfContentType('text/csv; charset=utf-8', 'https://x.test/a.pdf')).toBe('csv')
    expect(knowledgeKindOfContentType('text/html; charset=utf-8', 'https://x.test/')).toBe('html')
    expect(knowledgeKindOfContentType('text/plain', 'https://x.test/')).toBe('text')
    expect(knowledgeKindOfContentType('application/octet-stream', 'https://x.test/prices.csv?v=2')).toBe('csv')
    expect(knowledgeKindOfContentType(null, 'ipfs://bafy/doc.pdf')).toBe('pdf')
    expect(knowledgeKindOfContentType(null, 'https://x.test/doc')).toBe('html')
    expect(knowledgeKindOfContentType(null, 'https://x.test/doc', bytes('%PDF-1.7 ...'))).toBe('pdf')
    expect(knowledgeKindOfContentType(null, 'https://x.test/doc', bytes('just words'))).toBe('text')
    expect(knowledgeKindOfContentType(null, 'https://x.test/doc', bytes('<!DOCTYPE html><p>x</p>'))).toBe('html')
  })

  it('fetches each listed URL and parses it by its kind, joining the texts with blank lines', async () => {
    const bodies: Record<string, { body: Uint8Array; contentType: string | null }> = {
      'https://docs.example/help': { body: bytes(PAGE), contentType: 'text/html; charset=utf-8' },
      'https://docs.example/prices.csv': { body: bytes('plan,price\nbasic,10\n'), contentType: null },
    }
    const fetched: string[] = []
    const fetchUrl = async (url: string) => {
      fetched.push(url)
      const found = bodies[url]
      if (!found) throw new Error(`unexpected fetch of ${url}`)
      return found
    }
    const list = '# our docs\nhttps://docs.example/help\n\n  https://docs.example/prices.csv  \n'
    const text = await loadKnowledgeText('knowledge:url', bytes(list), fetchUrl)
    expect(fetched.sort()).toEqual(['https://docs.example/help', 'https://docs.example/prices.csv'])
    expect(text).toContain('Returns and refunds')
    expect(text).not.toContain('trackingSecret')
    expect(text.endsWith('\n\nplan: basic; price: 10')).toBe(true)
  })

  it('refuses more than 10 URLs, and parses the other categories from the content itself', async () => {
    const list = Array.from({ length: 11 }, (_, i) => `https://docs.example/${i}`).join('\n')
    const error = await rejectionOf(loadKnowledgeText('knowledge:url', bytes(list), async () => ({ body: bytes(''), contentType: null })))
    expect(error).toBeInstanceOf(KnowledgeParseError)
    expect(error.message).toMatch(/at most 10/)

    const noFetch = async (): Promise<never> => {
      throw new Error('must not fetch')
    }
    expect(await loadKnowledgeText('knowledge:csv', bytes('q,a\nrefunds?,yes\n'), noFetch)).toBe('q: refunds?; a: yes')
    expect(await loadKnowledgeText('knowledge:text', bytes('plain words'), noFetch)).toBe('plain words')
    expect(await rejectionOf(loadKnowledgeText('promptset', bytes('x'), noFetch))).toBeInstanceOf(KnowledgeParseError)
  })
})

describe('chunkText', () => {
  const words = (text: string) => text.split(/\s+/).filter((w) => w !== '')

  /** Rebuilds the word sequence from chunks by dropping, from each chunk, the words it repeats from the end of the previous one. */
  function wordsWithoutOverlap(chunks: string[]): string[] {
    const out: string[] = []
    let previous: string[] = []
    for (const chunk of chunks) {
      const current = words(chunk)
      let shared = Math.min(previous.length, current.length)
      while (shared > 0 && previous.slice(previous.length - shared).join(' ') !== current.slice(0, shared).join(' ')) shared -= 1
      out.push(...current.slice(shared))
      previous = current
    }
    return out
  }

  // Distinct words, so overlaps are unambiguous: paragraphs of sentences of various lengths, one very long paragraph.
  let n = 0
  const word = () => `w${(n++).toString(36)}`
  const sentence = (length: number) => Array.from({ length }, word).join(' ') + '.'
  const paragraphs = [
    sentence(5),
    Array.from({ length: 4 }, (_, i) => sentence(8 + i)).join(' '),
    Array.from({ length: 60 }, (_, i) => sentence(3 + (i % 9))).join('  '),
    `${sentence(4)}\n${sentence(6)}\n${sentence(250)}`,
    sentence(2),
  ]
  const text = `  ${paragraphs.join('\n\n\n')}\r\n\r\n   \n`

  it('keeps every chunk within maxChars, none empty, whitespace normalised', () => {
    for (const maxChars of [80, 300, 1200]) {
      const chunks = chunkText(text, { maxChars, overlapChars: Math.floor(maxChars / 8) })
      expect(chunks.length).toBeGreaterThan(0)
      for (const chunk of chunks) {
        expect(chunk.length).toBeLessThanOrEqual(maxChars)
        expect(chunk.trim()).toBe(chunk)
        expect(chunk).not.toBe('')
        expect(chunk).not.toMatch(/[ \t]{2,}|\r|\n{3,}/)
      }
    }
  })

  it('covers all the words in order, consecutive chunks sharing up to overlapChars at a word boundary', () => {
    const chunks = chunkText(text, { maxChars: 300, overlapChars: 60 })
    expect(chunks.length).toBeGreaterThan(5)
    expect(wordsWithoutOverlap(chunks)).toEqual(words(text))
    let overlapping = 0
    for (let i = 1; i < chunks.length; i++) {
      const previous = words(chunks[i - 1]!)
      const current = words(chunks[i]!)
      const firstWord = current[0]!
      if (previous.includes(firstWord) && previous.indexOf(firstWord) > 0) {
        overlapping += 1
        const shared = previous.slice(previous.indexOf(firstWord))
        expect(current.slice(0, shared.length)).toEqual(shared)
        expect(shared.join(' ').length).toBeLessThanOrEqual(60)
      }
    }
    expect(overlapping).toBeGreaterThan(chunks.length / 2)
  })

  it('keeps a paragraph that fits whole, and splits on paragraphs first', () => {
    expect(chunkText('First paragraph.\n\nSecond one.', { maxChars: 1200 })).toEqual(['First paragraph.\n\nSecond one.'])
    const chunks = chunkText(`${'a '.repeat(30).trim()}\n\n${'b '.repeat(30).trim()}`, { maxChars: 70, overlapChars: 0 })
    expect(chunks).toEqual(['a '.repeat(30).trim(), 'b '.repeat(30).trim()])
  })

  it('cuts a word longer than a chunk, losing no character', () => {
    const giant = 'x'.repeat(2500)
    const chunks = chunkText(`intro words ${giant} outro`, { maxChars: 1000, overlapChars: 100 })
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(1000)
    expect(chunks.join('').replace(/[^x]/g, '')).toBe(giant)
    expect(chunks[0]).toContain('intro words')
    expect(chunks.at(-1)).toContain('outro')
  })

  it('returns no chunk for blank text', () => {
    expect(chunkText('  \n\n \t ')).toEqual([])
  })
})

describe(`knowledge store on ${backend}`, () => {
  let database: TestDatabase
  const chainId = 133717

  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(async () => {
    await database?.cleanup()
  })

  const storedChunks = async (product: string, version: string) =>
    database.db
      .selectFrom('app.knowledge_chunks')
      .select(['ordinal', 'content'])
      .where('chain_id', '=', chainId)
      .where('product', '=', product)
      .where('version', '=', version)
      .orderBy('ordinal')
      .execute()

  it('indexes a product version once: the second call does not load it again', async () => {
    let loads = 0
    const load = async () => {
      loads += 1
      return ['chunk one', 'chunk two', 'chunk three']
    }
    const key = { chainId, product: '0xaaa1', version: 'v1' }
    expect(await ensureKnowledgeIndexed(database.db, key, load)).toEqual({ chunks: 3, indexed: true })
    expect(await ensureKnowledgeIndexed(database.db, key, load)).toEqual({ chunks: 3, indexed: false })
    expect(loads).toBe(1)
    expect((await storedChunks('0xaaa1', 'v1')).map((c) => c.content)).toEqual(['chunk one', 'chunk two', 'chunk three'])
  })

  it('stores a large document in several inserts', async () => {
    const many = Array.from({ length: 1234 }, (_, i) => `chunk number ${i}`)
    expect(await ensureKnowledgeIndexed(database.db, { chainId, product: '0xaaa2', version: 'v1' }, async () => many)).toEqual({ chunks: 1234, indexed: true })
    const stored = await storedChunks('0xaaa2', 'v1')
    expect(stored).toHaveLength(1234)
    expect(stored.at(-1)).toEqual({ ordinal: 1233, content: 'chunk number 1233' })
  })

  it('remembers an empty document, so it is not loaded again, and searches skip it', async () => {
    let loads = 0
    const key = { chainId, product: '0xaaa3', version: 'v1' }
    const load = async () => {
      loads += 1
      return []
    }
    expect(await ensureKnowledgeIndexed(database.db, key, load)).toEqual({ chunks: 0, indexed: true })
    expect(await ensureKnowledgeIndexed(database.db, key, load)).toEqual({ chunks: 0, indexed: false })
    expect(loads).toBe(1)
    expect(await searchKnowledge(database.db, { chainId, sources: [{ product: '0xaaa3', version: 'v1' }], text: '', limit: 5 })).toEqual([])
  })

  it('two concurrent first uses in one process leave exactly one set of chunks', async () => {
    let loads = 0
    const key = { chainId, product: '0xaaa4', version: 'v1' }
    const load = async () => {
      loads += 1
      return ['alpha', 'beta']
    }
    const results = await Promise.all([ensureKnowledgeIndexed(database.db, key, load), ensureKnowledgeIndexed(database.db, key, load)])
    expect(results.every((r) => r.chunks === 2)).toBe(true)
    expect(loads).toBe(1)
    expect((await storedChunks('0xaaa4', 'v1')).map((c) => c.content)).toEqual(['alpha', 'beta'])
  })

  it.skipIf(!process.env.DATABASE_URL)('two replicas indexing the same version at once leave exactly one set of chunks', async () => {
    const other: DatabaseHandle = await createDatabase({ url: database.url! })
    try {
      // Both loads finish only once both have started: both replicas found nothing stored and race to write.
      let started = 0
      let bothStarted!: () => void
      const barrier = new Promise<void>((resolve) => (bothStarted = resolve))
      const load = (content: string[]) => async () => {
        if (++started === 2) bothStarted()
        await barrier
        return content
      }
      const key = { chainId, product: '0xaaa5', version: 'v1' }
      const results = await Promise.all([
        ensureKnowledgeIndexed(database.db, key, load(['one', 'two', 'three'])),
        ensureKnowledgeIndexed(other.db, key, load(['one', 'two', 'three'])),
      ])
      expect(results.map((r) => r.indexed).sort()).toEqual([false, true])
      expect(results.every((r) => r.chunks === 3)).toBe(true)
      expect((await storedChunks('0xaaa5', 'v1')).map((c) => c.content)).toEqual(['one', 'two', 'three'])
    } finally {
      await other.destroy()
    }
  })

  describe('searchKnowledge', () => {
    const shop = { product: '0xshop', version: 'v2' }
    const faq = { product: '0xfaq', version: 'v1' }

    beforeAll(async () => {
      await ensureKnowledgeIndexed(database.db, { chainId, ...shop }, async () => [
        'Our stores open at nine and close at six on weekdays.',
        'Delivery is free for orders over fifty dollars; we work with two couriers.',
        'Refund policy: you can ask for a refund within thirty days, and the refund reaches your card in five days.',
        'Gift cards never expire.',
      ])
      // The same product's previous version, and a product not asked about: both talk about refunds.
      await ensureKnowledgeIndexed(database.db, { chainId, product: '0xshop', version: 'v1' }, async () => ['Refunds are refunded as refund vouchers only.'])
      await ensureKnowledgeIndexed(database.db, { chainId, product: '0xother', version: 'v1' }, async () => ['Refund refund refunds: the other shop refunds nothing.'])
      await ensureKnowledgeIndexed(database.db, { chainId: chainId + 1, ...shop }, async () => ['Refund refunds on another chain.'])
      await ensureKnowledgeIndexed(database.db, { chainId, ...faq }, async () => ['Questions are answered within a day.', 'Passwords can be reset from the login page.'])
    })

    it('finds the chunk about the refund policy for "how do refunds work?", first', async () => {
      const hits = await searchKnowledge(database.db, { chainId, sources: [shop, faq], text: 'how do refunds work?', limit: 3 })
      expect(hits[0]).toMatchObject({ product: '0xshop', ordinal: 2 })
      expect(hits[0]!.content).toContain('Refund policy')
      expect(hits[0]!.rank).toBeGreaterThan(0)
      for (let i = 1; i < hits.length; i++) expect(hits[i]!.rank).toBeLessThanOrEqual(hits[i - 1]!.rank)
      // Any word of the question matches ("work"), but only in the given sources, versions and chain.
      expect(hits.map((h) => `${h.product}#${h.ordinal}`)).toEqual(['0xshop#2', '0xshop#1'])
    })

    it('is safe with query syntax in the text', async () => {
      const hits = await searchKnowledge(database.db, { chainId, sources: [shop], text: "refund' & | ! <-> :* ( ) \\ policy", limit: 5 })
      expect(hits[0]).toMatchObject({ product: '0xshop', ordinal: 2 })
    })

    it('falls back to the first chunks of each source when the question has no searchable word', async () => {
      for (const text of ['', 'the and of it?']) {
        const hits = await searchKnowledge(database.db, { chainId, sources: [shop, faq], text, limit: 3 })
        expect(hits.map((h) => `${h.product}#${h.ordinal}`)).toEqual(['0xfaq#0', '0xshop#0', '0xfaq#1'])
        expect(hits.every((h) => h.rank === 0)).toBe(true)
      }
    })

    it('returns nothing for no sources, or words no chunk has', async () => {
      expect(await searchKnowledge(database.db, { chainId, sources: [], text: 'refunds', limit: 3 })).toEqual([])
      expect(await searchKnowledge(database.db, { chainId, sources: [shop], text: 'zebra', limit: 3 })).toEqual([])
    })
  })
})
