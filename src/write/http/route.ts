/**
 * The write path's routes are a table: each entry says its method, path, who may call it and
 * the schema of its input; `mountRoutes` turns the table into Koa routes that authenticate,
 * validate, run, and answer in v1's envelope. The role-matrix test walks the same table.
 */
import type Router from '@koa/router'
import type { Context } from 'koa'
import type { z } from 'zod'
import type { Address } from 'viem'
import type { Principal } from '../auth/principal.js'
import type { WriteContext } from '../context.js'
import { readBody } from './body.js'
import { WriteError } from './errors.js'
import type { SuccessBody } from './envelope.js'
import { withIdempotencyKey } from './idempotency.js'

/**
 * Who may call a route: `public` anyone; `wallet` a signed-in wallet (session JWT or its `sk-`
 * key); `key` also a scoped key (whose scope the route checks).
 */
export type Access = 'public' | 'wallet' | 'key'

export interface Reply {
  data: unknown
  message?: string
  /** Default 200. */
  status?: number
}

export interface WriteCall<Input, Caller> {
  w: WriteContext
  c: Context
  input: Input
  principal: Caller
  /** The raw body text (for webhooks, which verify its exact bytes). */
  rawBody: string | undefined
}

type CallerOf<A extends Access> = A extends 'public' ? Principal | undefined : A extends 'wallet' ? Extract<Principal, { kind: 'session' | 'walletKey' }> : Principal

export interface WriteRoute<S extends z.ZodType = z.ZodType, A extends Access = Access> {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
  /** Under /api, in @koa/router syntax: `/v1/orgs/:id`. */
  path: string
  access: A
  summary: string
  /** Validates the query string, the JSON body (an object) and the path parameters, merged in that order. */
  input?: S
  handle(call: WriteCall<z.output<S>, CallerOf<A>>): Promise<Reply>
}

/** Declares a route with its input and caller typed. */
export function route<S extends z.ZodType, A extends Access>(spec: WriteRoute<S, A>): WriteRoute {
  return spec as unknown as WriteRoute
}

/** The wallet acting in a call that needs one, lowercased (as every table stores addresses). */
export function walletOf(principal: Principal | undefined): Address {
  if (!principal) throw new WriteError(401, 'sign in first: send Authorization: Bearer <token from POST /api/v1/auth/login>')
  return principal.address.toLowerCase() as Address
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = issue.path.map(String).join('.')
  if (issue.code === 'unrecognized_keys') return `unknown parameter(s): ${issue.keys.join(', ')}`
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${at}: is required`
  return at ? `${at}: ${issue.message}` : issue.message
}

export function mountRoutes(router: Router, routes: readonly WriteRoute[], w: WriteContext): void {
  for (const spec of routes) {
    const method = spec.method.toLowerCase() as 'get' | 'post' | 'patch' | 'put' | 'delete'
    router[method](`/api${spec.path}`, async (c) => {
      const principal = c.state.principal
      if (spec.access !== 'public' && !principal) {
        throw new WriteError(401, 'sign in first: send Authorization: Bearer <token from POST /api/v1/auth/login> or an API key')
      }
      if (spec.access === 'wallet' && principal?.kind === 'scopedKey') {
        throw new WriteError(403, 'a scoped API key only calls the inference API; manage organizations and projects signed in as the wallet')
      }
      const body = c.method === 'GET' || c.method === 'HEAD' ? undefined : await readBody(c)
      const json = body?.json
      const fields = { ...c.query, ...(json && typeof json === 'object' && !Array.isArray(json) ? json : {}), ...c.params }
      let input: unknown = fields
      if (spec.input) {
        const parsed = spec.input.safeParse(fields)
        if (!parsed.success) throw new WriteError(400, parsed.error.issues.map(describeIssue).join('; '), 'invalid_argument')
        input = parsed.data
      }
      const run = () => spec.handle({ w, c, input: input as never, principal: principal as never, rawBody: body?.raw })
      const reply = c.method !== 'GET' && c.get('idempotency-key') ? await withIdempotencyKey(w, c, run) : await run()
      // A write may change what inference calls are allowed to do (roles, products, settings).
      if (c.method !== 'GET') w.callCache.clear()
      c.status = reply.status ?? 200
      const envelope: SuccessBody = { success: true, message: reply.message ?? 'ok', data: reply.data ?? null }
      c.body = envelope
    })
  }
}
