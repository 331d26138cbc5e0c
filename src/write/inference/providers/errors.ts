import type { OpenAIErrorBody } from './types.js'

/**
 * A failed upstream call: the provider's HTTP status and its error in the OpenAI shape, whatever
 * shape the provider used. Network failures are 502, timeouts 504. `midStream` marks an error
 * that arrived after the stream had started (the caller can no longer change the status).
 */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError'
  constructor(
    readonly provider: string,
    readonly status: number,
    readonly body: OpenAIErrorBody,
    /** Seconds to wait, from a 429's (or 503's) retry-after. */
    readonly retryAfter: number | null = null,
    readonly midStream = false,
  ) {
    super(`${provider}: ${status} ${body.error.message}`)
  }
}

/** A provider that is unknown or lacks its key or base URL; the message says what to set. */
export class ProviderConfigError extends Error {
  override readonly name = 'ProviderConfigError'
  constructor(
    readonly provider: string,
    readonly code: 'unknown_provider' | 'provider_not_configured',
    message: string,
  ) {
    super(message)
  }
}

const typeForStatus = (status: number): string =>
  status === 400 || status === 404 || status === 409 || status === 413 || status === 422 ? 'invalid_request_error'
    : status === 401 ? 'authentication_error'
      : status === 403 ? 'permission_error'
        : status === 429 ? 'rate_limit_error'
          : 'api_error'

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : null)

/**
 * Turns any upstream error payload into the OpenAI shape. Seen in the field: OpenAI's
 * `{error:{…}}`, Gemini's `[{error:{code,message,status}}]`, Ollama's `{error:"…"}`, vLLM's flat
 * `{object:"error",message,type,code}`, FastAPI's `{detail}`, and plain text or HTML.
 */
export function normalizeErrorBody(status: number, payload: unknown, secret: string | null = null): OpenAIErrorBody {
  let raw: unknown = Array.isArray(payload) ? payload[0] : payload
  if (raw && typeof raw === 'object' && 'error' in raw) raw = (raw as { error: unknown }).error
  let message: string | null = null
  let type: string | null = null
  let param: string | null = null
  let code: string | null = null
  if (typeof raw === 'string') {
    message = raw
  } else if (raw && typeof raw === 'object') {
    const e = raw as Record<string, unknown>
    const detail = e.detail
    message = str(e.message) ?? str(detail) ?? (detail !== undefined ? JSON.stringify(detail) : null)
    type = str(e.type) ?? (typeof e.status === 'string' ? e.status.toLowerCase() : null)
    param = str(e.param)
    code = str(e.code)
  }
  message = (message ?? `upstream answered ${status}`).slice(0, 2000)
  // Providers echo (part of) a refused key in their message; never pass it on.
  if (secret) message = message.split(secret).join('[redacted]')
  return { error: { message, type: type ?? typeForStatus(status), param, code } }
}

/** Seconds from a retry-after header: delta-seconds or an HTTP date. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | null {
  if (!header) return null
  const trimmed = header.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed))
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000))
}
