/**
 * The OpenAPI 3.1 document of the gateway's `/api`, generated from its route table: path and
 * query parameters from the zod schema that validates each route's input (v1 sends parameters
 * in the query string, also on POST and PATCH; a JSON body with the same fields works too).
 */
import { operationId, toSchema, type JsonSchema } from '../../api/openapi.js'
import type { WriteRoute } from './route.js'

const COMPONENTS = '#/components/schemas/'

const envelope = (data: JsonSchema = {}): JsonSchema => ({
  type: 'object',
  required: ['success', 'message', 'data'],
  properties: { success: { const: true }, message: { type: 'string' }, data },
})

const failure: JsonSchema = {
  type: 'object',
  required: ['success', 'message'],
  properties: { success: { const: false }, message: { type: 'string' }, code: { type: 'string' } },
}

const failureResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: `${COMPONENTS}Failure` } } } })

/** `extraPaths`: routes outside the table, described by hand (the OpenAI-compatible ones). */
export function buildGatewayOpenApiDocument(
  routes: readonly WriteRoute[], info: { version: string }, extraPaths: Record<string, Record<string, unknown>> = {},
): JsonSchema {
  const components: Record<string, JsonSchema> = { Failure: failure }
  const paths: Record<string, Record<string, unknown>> = { ...extraPaths }
  for (const route of routes) {
    const pathNames = new Set([...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!))
    const parameters: unknown[] = []
    if (route.input) {
      const json = toSchema(route.input, 'input', components) as { properties?: Record<string, JsonSchema>; required?: string[] }
      for (const [name, property] of Object.entries(json.properties ?? {})) {
        const { description, ...schema } = property
        const where = pathNames.has(name) ? 'path' : 'query'
        parameters.push({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), ...(description ? { description } : {}), schema })
      }
    }
    const method = route.method.toLowerCase()
    const apiPath = `/api${route.path.replace(/:(\w+)/g, '{$1}')}`
    paths[apiPath] ??= {}
    paths[apiPath][method] = {
      operationId: operationId(route.path, method),
      summary: route.summary,
      tags: [route.path.split('/')[2] ?? 'api'],
      ...(route.access === 'public' ? {} : { security: [{ bearer: [] }] }),
      parameters,
      responses: {
        200: { description: 'OK', content: { 'application/json': { schema: envelope() } } },
        400: failureResponse('A parameter is malformed; the message names it'),
        ...(route.access === 'public' ? {} : { 401: failureResponse('No or invalid credentials'), 403: failureResponse('The caller\'s role does not allow this') }),
        429: failureResponse('Rate limited; see Retry-After and the RateLimit-* headers'),
      },
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Haithe gateway (v1-compatible /api)',
      version: info.version,
      description: 'Wallet sign-in, API keys, organizations, projects, creators, products, faucet, webhooks, server transactions, conversations and OpenAI-compatible inference (/api/v1beta/openai, in OpenAI\'s wire format). Other answers are `{success, message, data}`; amounts are tUSDT base units as decimal strings. Authenticate with `Authorization: Bearer <session token or sk- key>`. Write routes accept an `Idempotency-Key` header.',
    },
    paths,
    components: { schemas: components, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  }
}
