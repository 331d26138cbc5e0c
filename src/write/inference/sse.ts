/**
 * Server-sent events, both ways. The parser follows the WHATWG event-stream rules so that any
 * OpenAI-compatible upstream parses the same: lines end in \n, \r\n or \r; `:` starts a comment;
 * several `data:` lines make one event joined by \n; a blank line dispatches it. Input may be
 * cut anywhere, even inside a UTF-8 character or between \r and \n.
 */
export interface SseEvent {
  /** `message` unless an `event:` field named it. */
  event: string
  data: string
  id?: string
}

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8')
  private buffer = ''
  /** A chunk ended in \r: a \n at the start of the next one belongs to the same line end. */
  private skipLf = false
  private started = false
  private data: string[] = []
  private eventName = ''
  private id: string | undefined

  /** Feeds bytes (or text); returns the events completed by them. */
  feed(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true })
    if (!this.started && text.length > 0) {
      this.started = true
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    }
    if (this.skipLf && text.length > 0) {
      if (text[0] === '\n') text = text.slice(1)
      this.skipLf = false
    }
    // The kept buffer holds no line end, so only the new text needs scanning.
    const scanFrom = this.buffer.length
    this.buffer += text
    const events: SseEvent[] = []
    let start = 0
    for (let i = scanFrom; i < this.buffer.length; i++) {
      const c = this.buffer[i]
      if (c !== '\n' && c !== '\r') continue
      this.line(this.buffer.slice(start, i), events)
      if (c === '\r') {
        if (i + 1 < this.buffer.length) {
          if (this.buffer[i + 1] === '\n') i++
        } else {
          this.skipLf = true
        }
      }
      start = i + 1
    }
    this.buffer = this.buffer.slice(start)
    return events
  }

  /**
   * The stream ended. An event without its closing blank line is still dispatched: some
   * upstreams close the connection right after the last `data:` line.
   */
  end(): SseEvent[] {
    const events = this.feed(this.decoder.decode())
    if (this.buffer.length > 0) this.line(this.buffer, events)
    this.buffer = ''
    this.line('', events)
    return events
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        const event: SseEvent = { event: this.eventName || 'message', data: this.data.join('\n') }
        if (this.id !== undefined) event.id = this.id
        events.push(event)
      }
      this.data = []
      this.eventName = ''
      return
    }
    if (line.startsWith(':')) return
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.data.push(value)
    else if (field === 'event') this.eventName = value
    else if (field === 'id' && !value.includes('\0')) this.id = value
  }
}

/** One `data:` event. JSON.stringify never emits a raw newline, so one line always suffices. */
export const sseData = (value: unknown): string => `data: ${JSON.stringify(value)}\n\n`

/** The OpenAI end-of-stream marker. */
export const SSE_DONE = 'data: [DONE]\n\n'

/** A comment line: keeps idle connections open through proxies without being an event. */
export const sseComment = (text = 'keep-alive'): string => `: ${text}\n\n`
