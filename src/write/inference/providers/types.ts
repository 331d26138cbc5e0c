/**
 * The OpenAI chat-completions wire shapes, as loose as the gateway needs: it passes every
 * parameter through, so requests and answers keep whatever fields the client or provider adds.
 */
export interface ChatCompletionRequest {
  model: string
  messages: unknown[]
  stream?: boolean | null
  stream_options?: ({ include_usage?: boolean | null } & Record<string, unknown>) | null
  [param: string]: unknown
}

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  /** prompt_tokens_details, completion_tokens_details and provider extras, kept as sent. */
  [detail: string]: unknown
}

export interface ChatCompletion {
  id?: string
  object?: string
  model?: string
  choices: Array<Record<string, unknown>>
  usage?: Usage | null
  [field: string]: unknown
}

/** A streamed chunk: the same loose shape as a completion (its choices carry `delta`s). */
export type ChatCompletionChunk = ChatCompletion

/** The OpenAI error body, which the gateway also answers with. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null }
}

export interface CallOptions {
  /** Aborting it cancels the upstream request. */
  signal?: AbortSignal
  /** The provider's model id, when the caller has already mapped it (a model catalogue). */
  model?: string
}
