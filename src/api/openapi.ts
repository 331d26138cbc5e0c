/**
 * The OpenAPI 3.1 document of the read API, generated from the route table: parameters from the
 * zod schemas that validate them, responses from the zod schemas of the views (JSON Schema
 * 2020-12, which OpenAPI 3.1 uses as it is).
 */
import { z } from 'zod'
import type { RouteSpec } from './routes.js'

export type JsonSchema = Record<string, unknown>

const COMPONENTS = '#/components/schemas/'

/** JSON Schema of `schema`, its named parts ($defs) moved to components.schemas. */
export function toSchema(schema: z.ZodType, io: 'input' | 'output', components: Record<string, JsonSchema>): JsonSchema {
  const json = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
    // z.number().int() adds ±2^53 bounds to every integer: noise for a reader of the document.
    override: ({ jsonSchema }) => {
      if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum
      if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum
    },
  })
  const { $defs, $schema: _, ...rest } = JSON.parse(JSON.stringify(json).replaceAll('"#/$defs/', `"${COMPONENTS}`)) as JsonSchema & { $defs?: Record<string, JsonSchema> }
  for (const [id, def] of Object.entries($defs ?? {})) components[id] = def
  return rest
}

const errorSchema: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
}

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: `${COMPONENTS}Error` } } } })

export function buildOpenApiDocument(routes: readonly RouteSpec[], info: { version: string; serverUrl?: string }): JsonSchema {
  const components: Record<string, JsonSchema> = { Error: errorSchema }
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of routes) {
    const parameters: unknown[] = []
    for (const [where, schema] of [['path', route.params], ['query', route.query]] as const) {
      if (!schema) continue
      const json = toSchema(schema, 'input', components) as { properties?: Record<string, JsonSchema>; required?: string[] }
      for (const [name, property] of Object.entries(json.properties ?? {})) {
        const { description, ...rest } = property
        parameters.push({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), ...(description ? { description } : {}), schema: rest })
      }
    }
    const openApiPath = route.path.replace(/:(\w+)/g, '{$1}')
    paths[openApiPath] = {
      get: {
        operationId: operationId(route.path),
        summary: route.summary,
        tags: [route.tag],
        parameters,
        responses: {
          200: { description: 'OK', content: { 'application/json': { schema: toSchema(route.response, 'output', components) } } },
          400: errorResponse('A parameter is malformed or out of range; the message names it'),
          ...(route.params ? { 404: errorResponse('Not indexed (unknown address or hash)') } : {}),
          429: errorResponse('Rate limited; see Retry-After and the RateLimit-* headers'),
        },
      },
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Haithe read API',
      version: info.version,
      description: 'Marketplace and analytics over the indexed Haithe contracts. Amounts are tUSDT base units as decimal strings; lists are paged with an opaque `cursor` (pass `next_cursor`). Anonymous callers get 100 requests a minute per IP; an API key (`Authorization: Bearer` or `X-API-Key`) or a wallet signature (`X-Haithe-Address`, `X-Haithe-Timestamp`, `X-Haithe-Signature` over `haithe-read-api:<timestamp>`) gets 1000.',
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    paths,
    components: { schemas: components },
  }
}

/** `/v1/organizations/:address/spend` → `getOrganizationsAddressSpend`: stable and unique per path. */
export function operationId(path: string, method = 'get'): string {
  const words = path.replace(/^\/v1(beta)?\//, '').split(/[/_-]/).filter(Boolean).map((w) => w.replace(/^:/, ''))
  return `${method.toLowerCase()}${words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')}`
}
