/**
 * A strict validator of the JSON Schema subset the OpenAPI document uses (2020-12 keywords as
 * zod emits them), for checking real responses against the published schemas. A keyword it does
 * not know is an error, never silently ignored, so a passing check means what it says.
 */
type Schema = Record<string, unknown>

const annotations = new Set(['description', 'example', 'examples', 'default', 'title', 'format', 'id', 'deprecated', 'readOnly', 'writeOnly', '$schema'])

export function validateJson(value: unknown, schema: Schema, components: Record<string, Schema>, path = '$'): string[] {
  const errors: string[] = []
  const fail = (message: string) => void errors.push(`${path}: ${message}`)
  for (const [keyword, argument] of Object.entries(schema)) {
    switch (keyword) {
      case '$ref': {
        const name = String(argument).replace('#/components/schemas/', '')
        const target = components[name]
        if (!target) fail(`unresolvable $ref ${String(argument)}`)
        else errors.push(...validateJson(value, target, components, path))
        break
      }
      case 'type': {
        const types = Array.isArray(argument) ? (argument as string[]) : [argument as string]
        if (!types.some((type) => hasType(value, type))) fail(`expected ${types.join(' | ')}, got ${JSON.stringify(value)?.slice(0, 80)}`)
        break
      }
      case 'properties': {
        if (!isObject(value)) break
        for (const [name, sub] of Object.entries(argument as Record<string, Schema>)) {
          if (name in value) errors.push(...validateJson(value[name], sub, components, `${path}.${name}`))
        }
        break
      }
      case 'required':
        if (isObject(value)) for (const name of argument as string[]) if (!(name in value)) fail(`missing required ${name}`)
        break
      case 'additionalProperties': {
        if (!isObject(value)) break
        const known = new Set(Object.keys((schema.properties ?? {}) as object))
        for (const [name, sub] of Object.entries(value)) {
          if (known.has(name)) continue
          if (argument === false) fail(`unexpected property ${name}`)
          else if (isObject(argument)) errors.push(...validateJson(sub, argument, components, `${path}.${name}`))
        }
        break
      }
      case 'items':
        if (Array.isArray(value)) value.forEach((item, i) => errors.push(...validateJson(item, argument as Schema, components, `${path}[${i}]`)))
        break
      case 'anyOf':
      case 'oneOf': {
        const passing = (argument as Schema[]).filter((sub) => validateJson(value, sub, components, path).length === 0).length
        if (passing === 0 || (keyword === 'oneOf' && passing > 1)) fail(`${passing} of the ${keyword} alternatives match ${JSON.stringify(value)?.slice(0, 80)}`)
        break
      }
      case 'allOf':
        for (const sub of argument as Schema[]) errors.push(...validateJson(value, sub, components, path))
        break
      case 'enum':
        if (!(argument as unknown[]).some((option) => option === value)) fail(`${JSON.stringify(value)} is not one of ${JSON.stringify(argument)}`)
        break
      case 'const':
        if (value !== argument) fail(`${JSON.stringify(value)} is not ${JSON.stringify(argument)}`)
        break
      case 'pattern':
        if (typeof value === 'string' && !new RegExp(String(argument), 'u').test(value)) fail(`${JSON.stringify(value)} does not match /${String(argument)}/`)
        break
      case 'minLength':
        if (typeof value === 'string' && [...value].length < Number(argument)) fail(`shorter than ${String(argument)}`)
        break
      case 'maxLength':
        if (typeof value === 'string' && [...value].length > Number(argument)) fail(`longer than ${String(argument)}`)
        break
      case 'minimum':
        if (typeof value === 'number' && value < Number(argument)) fail(`below ${String(argument)}`)
        break
      case 'maximum':
        if (typeof value === 'number' && value > Number(argument)) fail(`above ${String(argument)}`)
        break
      case 'minItems':
        if (Array.isArray(value) && value.length < Number(argument)) fail(`fewer than ${String(argument)} items`)
        break
      case 'maxItems':
        if (Array.isArray(value) && value.length > Number(argument)) fail(`more than ${String(argument)} items`)
        break
      default:
        if (!annotations.has(keyword)) fail(`the validator does not know the keyword ${keyword}`)
    }
  }
  return errors
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'null': return value === null
    case 'boolean': return typeof value === 'boolean'
    case 'string': return typeof value === 'string'
    case 'number': return typeof value === 'number' && Number.isFinite(value)
    case 'integer': return typeof value === 'number' && Number.isInteger(value)
    case 'array': return Array.isArray(value)
    case 'object': return isObject(value)
    default: return false
  }
}
