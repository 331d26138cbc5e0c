/**
 * The OpenAI-compatible routes in the gateway's OpenAPI document. They speak OpenAI's wire
 * format (not v1's envelope), so they are described here by hand, as loosely as they pass
 * parameters through.
 */
import type { JsonSchema } from '../../api/index.js'
import { OPENAI_PATH_PREFIX } from '../http/openai-errors.js'

const openAiError: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type'],
      properties: { message: { type: 'string' }, type: { type: 'string' }, param: { type: ['string', 'null'] }, code: { type: ['string', 'null'] } },
    },
  },
}

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: openAiError } } })

const scopeHeaders = [
  { name: 'OpenAI-Organization', in: 'header', required: false, description: 'org-<organization address without 0x> (or Haithe-Organization); a scoped key carries its own', schema: { type: 'string' } },
  { name: 'OpenAI-Project', in: 'header', required: false, description: 'proj-<project uid> (or Haithe-Project); a scoped key carries its own', schema: { type: 'string' } },
]

const chatRequest: JsonSchema = {
  type: 'object',
  required: ['model', 'messages'],
  additionalProperties: true,
  description: 'OpenAI chat completion parameters; every one is passed to the provider (temperature, top_p, max_tokens, stop, seed, response_format, tools, tool_choice, user, …).',
  properties: {
    model: { type: 'string', description: 'A model of GET /models' },
    messages: { type: 'array', minItems: 1, items: { type: 'object' } },
    stream: { type: 'boolean' },
    stream_options: { type: 'object', properties: { include_usage: { type: 'boolean' } } },
    n: { type: 'integer', minimum: 1, maximum: 5 },
    user: { type: 'string', description: 'Also names the conversation whose memory is used when the project enables memory' },
  },
}

export const openAiPaths: Record<string, Record<string, unknown>> = {
  [`${OPENAI_PATH_PREFIX}/chat/completions`]: {
    post: {
      operationId: 'createChatCompletion',
      summary: 'Chat completion in OpenAI\'s wire format, shaped by the project\'s products, tools and memory; usage carries total_cost (tUSDT base units)',
      tags: ['openai'],
      security: [{ bearer: [] }],
      parameters: [
        ...scopeHeaders,
        { name: 'Haithe-Conversation', in: 'header', required: false, description: 'The conversation whose memory the call uses and extends (projects with memory enabled)', schema: { type: 'string' } },
      ],
      requestBody: { required: true, content: { 'application/json': { schema: chatRequest } } },
      responses: {
        200: {
          description: 'A chat.completion object, or with stream: true server-sent chat.completion.chunk events ending in data: [DONE]',
          content: { 'application/json': { schema: { type: 'object' } }, 'text/event-stream': { schema: { type: 'string' } } },
        },
        400: errorResponse('The request is malformed; `param` names the parameter'),
        401: errorResponse('No or invalid credentials'),
        402: errorResponse('insufficient_quota: the organization\'s balance or the key\'s monthly limit does not cover the call'),
        403: errorResponse('The caller may not call inference in this project, or the model is not enrolled'),
        429: errorResponse('Rate limited (by the gateway or the provider); see retry-after'),
        502: errorResponse('The provider failed'),
        503: errorResponse('The model\'s provider is not configured on this gateway'),
      },
    },
  },
  [`${OPENAI_PATH_PREFIX}/models`]: {
    get: {
      operationId: 'listOpenAiModels',
      summary: 'The models the caller can use, in OpenAI\'s list format (an organization\'s enrolled ones when it is named)',
      tags: ['openai'],
      security: [{ bearer: [] }],
      parameters: scopeHeaders.slice(0, 1),
      responses: { 200: { description: '{object: "list", data: [model]}', content: { 'application/json': { schema: { type: 'object' } } } }, 401: errorResponse('No or invalid credentials') },
    },
  },
  [`${OPENAI_PATH_PREFIX}/models/{model}`]: {
    get: {
      operationId: 'retrieveOpenAiModel',
      summary: 'One model in OpenAI\'s format',
      tags: ['openai'],
      security: [{ bearer: [] }],
      parameters: [{ name: 'model', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: { description: 'A model object', content: { 'application/json': { schema: { type: 'object' } } } }, 404: errorResponse('No such model') },
    },
  },
}
