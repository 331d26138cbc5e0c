import type { Context } from 'koa'
import { WriteError } from './errors.js'

/** Larger bodies are refused (413) before they are read whole. */
export const MAX_BODY_BYTES = 1024 * 1024

/**
 * The request body: parsed JSON for `application/json`, the raw text otherwise (webhooks verify
 * the exact bytes), undefined when there is none. Malformed JSON is 400; too large 413.
 */
export async function readBody(c: Context, maxBytes = MAX_BODY_BYTES): Promise<{ raw: string; json: unknown } | undefined> {
  const declared = Number(c.get('content-length') || 0)
  if (declared > maxBytes) throw new WriteError(413, `the body is ${declared} bytes; the limit is ${maxBytes}`)
  if (!declared && !c.get('transfer-encoding')) return undefined
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of c.req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) throw new WriteError(413, `the body is over ${maxBytes} bytes`)
    chunks.push(chunk)
  }
  const raw = Buffer.concat(chunks).toString('utf8')
  if (!raw.trim()) return undefined
  if (!c.is('application/json', 'application/*+json')) return { raw, json: undefined }
  try {
    return { raw, json: JSON.parse(raw) as unknown }
  } catch {
    throw new WriteError(400, 'the body is not valid JSON')
  }
}
