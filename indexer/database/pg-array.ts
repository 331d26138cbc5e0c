/**
 * A PostgreSQL array literal for values that never need quoting — 0x-hex, decimal integers,
 * dates and fixed words — built in one join. pg's generic array serialisation escapes every
 * element and costs more than the insert itself for 100,000-row batches. The literal travels
 * as a bound parameter like any other value; callers only pass values of those shapes (the
 * RPC's hex fields are checked where logs come in).
 */
export function pgArrayLiteral(values: readonly (string | number | bigint | null)[]): string {
  let out = '{'
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (i > 0) out += ','
    out += v === null || v === undefined ? 'NULL' : String(v)
  }
  return out + '}'
}
