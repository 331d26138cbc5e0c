/**
 * zod schemas of the write path's inputs. v1 sends most parameters in the query string, also
 * on POST and PATCH, so every value may arrive as a string: numbers and booleans are coerced.
 */
import type { Hex } from 'viem'
import { z } from 'zod'

export const address = z
  .string({ error: 'must be a 0x-prefixed 20-byte hex address' })
  .trim()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address')
  .transform((a) => a.toLowerCase() as `0x${string}`)

/** An integer id (path or query), 1 or more. */
export const id = z.coerce
  .number({ error: 'must be a positive whole number' })
  .int('must be a positive whole number')
  .min(1, 'must be a positive whole number')
  .max(Number.MAX_SAFE_INTEGER, 'is too large')

/** `true`/`false` (also `1`/`0`, any case) from a query string, or a JSON boolean. */
export const flag = z.union([
  z.boolean(),
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((s) => ['true', 'false', '1', '0'].includes(s), 'must be true or false')
    .transform((s) => s === 'true' || s === '1'),
], { error: 'must be true or false' })

/** A display name: trimmed, 1 to 100 characters. */
export const displayName = z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters')

/** A decimal amount of token base units. */
export const amount = z.union([z.string(), z.number().int()]).transform((v) => String(v).trim()).refine((s) => /^[0-9]{1,78}$/.test(s), 'must be a whole number of base units')

/** A signature: 0x-prefixed hex, whole bytes (65 for an account, longer for ERC-1271/6492 wallets). */
export const signature = z
  .string({ error: 'must be a 0x-prefixed hex signature' })
  .trim()
  .regex(/^0x([0-9a-fA-F]{2})+$/, 'must be a 0x-prefixed hex signature')
  .max(20_000, 'is too long')
  .transform((s) => s as Hex)

/** A UUID (nonces, conversation and session ids), lowercased. */
export const uuid = z.string().trim().toLowerCase().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a UUID')
