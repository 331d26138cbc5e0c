/**
 * Errors of the OpenAI-compatible routes (`/api/v1beta/openai/*`) in OpenAI's own shape,
 * `{ error: { message, type, param, code } }`, so the official clients raise the right error
 * class (APIError subclasses are chosen by HTTP status; `type` and `code` are what callers test).
 */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null }
}

export const OPENAI_PATH_PREFIX = '/api/v1beta/openai'

export function openAiErrorType(status: number): string {
  if (status === 402) return 'insufficient_quota'
  if (status === 429) return 'rate_limit_error'
  if (status === 401) return 'authentication_error'
  if (status === 403) return 'permission_error'
  if (status === 404) return 'not_found_error'
  if (status >= 500) return 'server_error'
  return 'invalid_request_error'
}

export function openAiErrorBody(status: number, code: string | null, message: string, param: string | null = null): OpenAiErrorBody {
  return { error: { message, type: openAiErrorType(status), param, code } }
}
