/**
 * Splits a document's text into chunks small enough to inject as context. Paragraphs are kept
 * whole when they fit; a longer paragraph is cut at line, then sentence, then word boundaries,
 * and a single word longer than a chunk is cut anywhere. Consecutive chunks share a few words
 * (a tail of the previous chunk, started at a word boundary) so a passage cut in two still
 * reads with its context.
 */

export interface ChunkOptions {
  /** Longest chunk, in UTF-16 code units (String#length). Default 1200. */
  maxChars?: number
  /** Longest text repeated from the end of one chunk at the start of the next. Default 150. */
  overlapChars?: number
}

/** A piece of text no longer than maxChars, and what separated it from the previous piece. */
interface Piece {
  separator: string
  text: string
}

export function chunkText(text: string, options: ChunkOptions = {}): string[] {
  const maxChars = options.maxChars ?? 1200
  const overlapChars = options.overlapChars ?? 150
  if (!Number.isInteger(maxChars) || maxChars < 1) throw new RangeError(`maxChars must be a positive integer, not ${maxChars}`)
  if (!Number.isInteger(overlapChars) || overlapChars < 0 || overlapChars >= maxChars) {
    throw new RangeError(`overlapChars must be an integer from 0 to maxChars - 1, not ${overlapChars}`)
  }

  const chunks: string[] = []
  let current = ''
  for (const piece of piecesOf(text, maxChars)) {
    if (current === '') {
      current = piece.text
    } else if (current.length + piece.separator.length + piece.text.length <= maxChars) {
      current += piece.separator + piece.text
    } else {
      chunks.push(current)
      const separator = piece.separator === '' ? ' ' : piece.separator
      const overlap = tailAtWordBoundary(current, Math.min(overlapChars, maxChars - piece.text.length - separator.length))
      current = overlap === '' ? piece.text : overlap + separator + piece.text
    }
  }
  if (current !== '') chunks.push(current)
  return chunks
}

/** Normalised paragraphs (lines trimmed, inner whitespace runs made one space), each cut into pieces of at most maxChars. */
function* piecesOf(text: string, maxChars: number): Generator<Piece> {
  const paragraphs = text
    .replace(/\r\n?/g, '\n')
    .split(/\n[^\S\n]*\n\s*/)
    .map((paragraph) =>
      paragraph
        .split('\n')
        .map((line) => line.replace(/\s+/g, ' ').trim())
        .filter((line) => line !== '')
        .join('\n'),
    )
    .filter((paragraph) => paragraph !== '')
  for (const paragraph of paragraphs) {
    let separator = '\n\n'
    for (const text of split(paragraph, maxChars, 0)) {
      yield { separator, text: text.text }
      separator = text.separator
    }
  }
}

/** Boundaries tried in turn: lines, sentences, words, then anywhere. */
const LEVELS: { pattern: RegExp; separator: string }[] = [
  { pattern: /\n/, separator: '\n' },
  { pattern: /(?<=[.!?;:])\s+/, separator: ' ' },
  { pattern: / /, separator: ' ' },
]

/** Cuts `text` into parts of at most maxChars; each part carries the separator that follows it. */
function split(text: string, maxChars: number, level: number): Piece[] {
  if (text.length <= maxChars) return [{ text, separator: ' ' }]
  const boundary = LEVELS[level]
  if (!boundary) return hardSplit(text, maxChars)
  const parts = text.split(boundary.pattern).filter((part) => part !== '')
  if (parts.length === 1) return split(text, maxChars, level + 1)
  return parts.flatMap((part, i) => {
    const pieces = split(part, maxChars, level + 1)
    // The separator after the last piece of this part is the boundary's own.
    const last = pieces[pieces.length - 1]!
    pieces[pieces.length - 1] = { text: last.text, separator: i < parts.length - 1 ? boundary.separator : last.separator }
    return pieces
  })
}

/** A word longer than a chunk, in maxChars slices (never splitting a surrogate pair); the slices join with no separator. */
function hardSplit(text: string, maxChars: number): Piece[] {
  const pieces: Piece[] = []
  let start = 0
  while (start < text.length) {
    let end = Math.min(start + maxChars, text.length)
    if (end < text.length && end - start > 1 && isHighSurrogate(text.charCodeAt(end - 1))) end -= 1
    pieces.push({ text: text.slice(start, end), separator: '' })
    start = end
  }
  pieces[pieces.length - 1]!.separator = ' '
  return pieces
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

/** The end of `text`, at most `limit` long, starting at the beginning of a word ('' when no whole word fits). */
function tailAtWordBoundary(text: string, limit: number): string {
  if (limit <= 0) return ''
  if (text.length <= limit) return text
  const start = text.length - limit
  if (/\s/.test(text[start - 1]!)) return text.slice(start).trim()
  const nextSpace = text.slice(start).search(/\s/)
  return nextSpace === -1 ? '' : text.slice(start + nextSpace).trim()
}
