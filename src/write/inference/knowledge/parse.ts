/**
 * Knowledge products' content to plain text: HTML through html-to-text (readable text, no
 * script/style/navigation), PDF through unpdf (pdf.js), CSV through csv-parse (one line per row,
 * `header: value; …`), text as UTF-8. `knowledge:url` products list URLs whose bodies are parsed
 * by their content type.
 */
import { parse as parseCsv } from 'csv-parse/sync'
import { convert as htmlToText, type HtmlToTextOptions } from 'html-to-text'
import { extractText, getDocumentProxy } from 'unpdf'

export type KnowledgeKind = 'text' | 'html' | 'pdf' | 'csv'

/** A knowledge product's content (or one of its URLs' bodies) could not be read as its kind. */
export class KnowledgeParseError extends Error {
  override name = 'KnowledgeParseError'
  constructor(
    readonly kind: KnowledgeKind | 'url',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** What `fetchUrl` returns for one URL of a `knowledge:url` product. */
export interface FetchedKnowledge {
  body: Uint8Array
  contentType: string | null
}

/** At most this many URLs in one `knowledge:url` product. */
export const MAX_KNOWLEDGE_URLS = 10

const KIND_OF_CATEGORY: Record<string, KnowledgeKind | 'url'> = {
  'knowledge:text': 'text',
  'knowledge:html': 'html',
  'knowledge:pdf': 'pdf',
  'knowledge:csv': 'csv',
  'knowledge:url': 'url',
}

const HTML_OPTIONS: HtmlToTextOptions = {
  wordwrap: false,
  selectors: [
    // Not the content a reader sees.
    ...['head', 'script', 'style', 'noscript', 'template', 'svg', 'canvas', 'iframe', 'object', 'nav', 'form', 'button'].map((selector) => ({
      selector,
      format: 'skip',
    })),
    { selector: 'img', format: 'skip' },
    { selector: 'a', options: { ignoreHref: true } },
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
  ],
}

/** Parses one document of `kind` to plain text; throws KnowledgeParseError when it is not a valid one. */
export async function parseKnowledge(kind: KnowledgeKind, content: Uint8Array, options: { contentType?: string | null } = {}): Promise<string> {
  switch (kind) {
    case 'text':
      return decodeText(kind, content, options.contentType)
    case 'html':
      return htmlToText(decodeText(kind, content, options.contentType), HTML_OPTIONS).trim()
    case 'csv':
      return csvToText(decodeText(kind, content, options.contentType))
    case 'pdf':
      return pdfToText(content)
  }
}

/** The kind of a fetched URL's body: by its content type, then by the URL's file extension, else HTML (or text when `body` does not look like markup). */
export function knowledgeKindOfContentType(contentType: string | null, url: string, body?: Uint8Array): KnowledgeKind {
  const mime = contentType?.split(';')[0]?.trim().toLowerCase() ?? ''
  if (mime === 'application/pdf' || mime === 'application/x-pdf') return 'pdf'
  if (mime === 'text/csv' || mime === 'application/csv' || mime === 'text/comma-separated-values') return 'csv'
  if (mime === 'text/html' || mime === 'application/xhtml+xml') return 'html'
  if (mime.startsWith('text/') || mime === 'application/json' || mime === 'application/xml' || mime === 'application/markdown') return 'text'

  const extension = extensionOf(url)
  if (extension === 'pdf') return 'pdf'
  if (extension === 'csv') return 'csv'
  if (extension === 'html' || extension === 'htm' || extension === 'xhtml') return 'html'
  if (extension === 'txt' || extension === 'md' || extension === 'markdown' || extension === 'json') return 'text'

  if (!body) return 'html'
  const head = new TextDecoder('utf-8').decode(body.subarray(0, 1024))
  if (head.startsWith('%PDF-')) return 'pdf'
  return /<(!doctype html|html|head|body|p|div|h[1-6]|article|section|title)[\s>]/i.test(head) ? 'html' : 'text'
}

/**
 * A knowledge product's text by category. `knowledge:url` content lists URLs (one per line, `#`
 * comments, at most 10, http(s) or ipfs), each fetched with `fetchUrl` (the caller's SSRF-guarded
 * fetch) and parsed by its kind; the texts are joined with blank lines.
 */
export async function loadKnowledgeText(
  category: string,
  content: Uint8Array,
  fetchUrl: (url: string) => Promise<FetchedKnowledge>,
): Promise<string> {
  const kind = KIND_OF_CATEGORY[category]
  if (!kind) throw new KnowledgeParseError('text', `"${category}" is not a knowledge category; use one of ${Object.keys(KIND_OF_CATEGORY).join(', ')}`)
  if (kind !== 'url') return parseKnowledge(kind, content)

  const urls = knowledgeUrls(decodeText('text', content, null))
  const texts = await Promise.all(
    urls.map(async (url) => {
      const { body, contentType } = await fetchUrl(url)
      const urlKind = knowledgeKindOfContentType(contentType, url, body)
      try {
        return await parseKnowledge(urlKind, body, { contentType })
      } catch (error) {
        if (error instanceof KnowledgeParseError) throw new KnowledgeParseError(urlKind, `${url}: ${error.message}`, { cause: error })
        throw error
      }
    }),
  )
  return texts.filter((text) => text.trim() !== '').join('\n\n')
}

/** The URLs listed by a `knowledge:url` product. */
export function knowledgeUrls(list: string): string[] {
  const urls = list
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  if (urls.length === 0) throw new KnowledgeParseError('url', 'the knowledge:url product lists no URL; put one URL per line')
  if (urls.length > MAX_KNOWLEDGE_URLS) {
    throw new KnowledgeParseError('url', `the knowledge:url product lists ${urls.length} URLs; list at most ${MAX_KNOWLEDGE_URLS}`)
  }
  for (const url of urls) {
    let protocol: string
    try {
      protocol = new URL(url).protocol
    } catch {
      throw new KnowledgeParseError('url', `"${url}" in the knowledge:url product is not a URL`)
    }
    if (protocol !== 'https:' && protocol !== 'http:' && protocol !== 'ipfs:') {
      throw new KnowledgeParseError('url', `"${url}" in the knowledge:url product is not an http(s) or ipfs URL`)
    }
  }
  return urls
}

function extensionOf(url: string): string {
  let pathname: string
  try {
    pathname = new URL(url).pathname
  } catch {
    return ''
  }
  const name = pathname.slice(pathname.lastIndexOf('/') + 1)
  const dot = name.lastIndexOf('.')
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : ''
}

/** Decodes with the content type's charset (UTF-8 by default), dropping a byte-order mark; invalid bytes are an error. */
function decodeText(kind: KnowledgeKind, content: Uint8Array, contentType: string | null | undefined): string {
  const charset = /;\s*charset="?([^";\s]+)"?/i.exec(contentType ?? '')?.[1] ?? 'utf-8'
  let decoder: InstanceType<typeof TextDecoder>
  try {
    decoder = new TextDecoder(charset, { fatal: true })
  } catch {
    decoder = new TextDecoder('utf-8', { fatal: true })
  }
  try {
    return decoder.decode(content)
  } catch (error) {
    throw new KnowledgeParseError(kind, `the ${kind} content is not valid ${decoder.encoding} text; save it as UTF-8`, { cause: error })
  }
}

/** One line per record: `header1: value1; header2: value2` (the first record names the columns; empty cells and rows are left out). */
function csvToText(text: string): string {
  let records: string[][]
  try {
    records = parseCsv(text, { bom: true, relax_column_count: true, skip_empty_lines: true, trim: true }) as string[][]
  } catch (error) {
    throw new KnowledgeParseError('csv', `the csv content could not be parsed: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  const [headers = [], ...rows] = records
  const lines: string[] = []
  for (const row of rows) {
    const cells = row.flatMap((value, i) => (value === '' ? [] : [`${headers[i] || `column ${i + 1}`}: ${value}`]))
    if (cells.length > 0) lines.push(cells.join('; '))
  }
  return lines.join('\n')
}

async function pdfToText(content: Uint8Array): Promise<string> {
  // pdf.js may transfer (detach) the buffer it is given: hand it a copy.
  const data = new Uint8Array(content)
  let pages: string[]
  try {
    const document = await getDocumentProxy(data, { verbosity: 0 })
    try {
      pages = (await extractText(document, { mergePages: false })).text
    } finally {
      await document.destroy()
    }
  } catch (error) {
    throw new KnowledgeParseError('pdf', `the pdf content could not be read: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  return pages
    .map((page) => page.trim())
    .filter((page) => page !== '')
    .join('\n\n')
}
