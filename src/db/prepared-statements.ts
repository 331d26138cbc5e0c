/**
 * Named prepared statements for the few statements on the hot path of every inference call. A
 * query whose text starts with `preparedAs(name)` is sent to PostgreSQL as the named statement
 * `name`, so each connection parses it once and, once PostgreSQL settles on a generic plan, stops
 * planning it. Kysely has no way to name a query, so the name travels in the text as an ordinary
 * SQL comment, harmless where it is not read (PGlite). Only statements whose text never changes
 * may be named: a connection keeps every statement it prepared.
 */
import { sql, type PostgresPool, type PostgresPoolClient, type RawBuilder } from 'kysely'
import type pg from 'pg'

const MARKER = /^\/\* prepared:([a-z_]+) \*\//

/** Prefix of a statement to prepare under `name` (lowercase letters and underscores). */
export function preparedAs(name: string): RawBuilder<unknown> {
  if (!/^[a-z_]+$/.test(name)) throw new Error(`preparedAs: "${name}" is not a statement name (lowercase letters and underscores)`)
  return sql.raw(`/* prepared:${name} */ `)
}

/** The pool as Kysely sees it, sending marked statements by name. */
export function withPreparedStatements(pool: pg.Pool): PostgresPool {
  return {
    connect: async () => {
      const client = await pool.connect()
      const query = (text: unknown, values?: readonly unknown[]) => {
        const name = typeof text === 'string' ? MARKER.exec(text)?.[1] : undefined
        if (name !== undefined) return client.query({ name, text: text as string, values: values as unknown[] })
        return values === undefined ? client.query(text as pg.Submittable) : client.query(text as string, values as unknown[])
      }
      return { query, release: () => client.release() } as unknown as PostgresPoolClient
    },
    end: () => pool.end(),
  }
}
