/**
 * Opaque cursors for keyset pagination: the sort key of the last row of a page, with the name
 * of the ordering it belongs to, as base64url JSON. A cursor from another list or ordering, or
 * one tampered with, is an InvalidArgumentError on `cursor`, never a 500 or a wrong page.
 */
import { z } from 'zod'
import { InvalidArgumentError } from './errors.js'

const payload = z.object({ o: z.string(), k: z.array(z.union([z.string(), z.number()])) })

export type CursorKey = (string | number)[]

/**
 * What one key of a cursor must be to reach SQL: `number` a non-negative safe integer (a
 * `bigint` column), `int` one that fits an `integer` column, `bigint-text` a decimal string that
 * fits a `bigint`, `decimal` one that fits a `numeric(78,0)`, `address` a lowercase address, and
 * `string` any decimal or 0x-hex string. Anything else was not made by us.
 */
export type CursorKeyType = 'number' | 'int' | 'bigint-text' | 'decimal' | 'address' | 'string'

const validKey: Record<CursorKeyType, (value: unknown) => boolean> = {
  number: (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0,
  int: (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2_147_483_647,
  'bigint-text': (v) => typeof v === 'string' && /^\d{1,19}$/.test(v) && BigInt(v) <= 9_223_372_036_854_775_807n,
  decimal: (v) => typeof v === 'string' && /^\d{1,78}$/.test(v),
  address: (v) => typeof v === 'string' && /^0x[0-9a-f]{40}$/.test(v),
  string: (v) => typeof v === 'string' && /^(0x[0-9a-f]*|\d+)$/.test(v),
}

export function encodeCursor(ordering: string, key: CursorKey): string {
  return Buffer.from(JSON.stringify({ o: ordering, k: key })).toString('base64url')
}

/** The key of `cursor` for `ordering`, checked against the expected types, or undefined without a cursor. */
export function decodeCursor<const T extends readonly CursorKeyType[]>(
  cursor: string | undefined,
  ordering: string,
  types: T,
): { [I in keyof T]: T[I] extends 'number' | 'int' ? number : string } | undefined {
  if (cursor === undefined) return undefined
  let parsed: z.infer<typeof payload>
  try {
    parsed = payload.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')))
  } catch {
    throw new InvalidArgumentError('cursor', 'is not a cursor from this API (pass next_cursor from the previous page unchanged)')
  }
  if (parsed.o !== ordering) throw new InvalidArgumentError('cursor', 'belongs to another list or sort order')
  if (parsed.k.length !== types.length || parsed.k.some((value, i) => !validKey[types[i]!](value))) {
    throw new InvalidArgumentError('cursor', 'is not a cursor from this API (pass next_cursor from the previous page unchanged)')
  }
  return parsed.k as never
}

export interface Page<T> {
  items: T[]
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: string | null
}

/** Cuts a `limit + 1` fetch into a page; the cursor is made from the last row kept. */
export function toPage<Row, T>(rows: Row[], limit: number, ordering: string, keyOf: (row: Row) => CursorKey, map: (row: Row) => T): Page<T> {
  const kept = rows.slice(0, limit)
  const last = kept.at(-1)
  return { items: kept.map(map), next_cursor: rows.length > limit && last !== undefined ? encodeCursor(ordering, keyOf(last)) : null }
}
