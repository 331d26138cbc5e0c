/**
 * `GET /docs`: a readable API reference rendered on the server from the OpenAPI document, one
 * self-contained page (no script, nothing fetched from elsewhere), so it works offline too.
 */
type Json = Record<string, unknown>

const escape = (text: unknown): string =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

function typeOf(schema: Json | undefined): string {
  if (!schema) return ''
  if (typeof schema.$ref === 'string') return schema.$ref.split('/').pop()!
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => String(v)).join(' | ')
  if (Array.isArray(schema.anyOf)) return [...new Set((schema.anyOf as Json[]).map(typeOf))].join(' or ')
  if (schema.type === 'array') return `${typeOf(schema.items as Json)}[]`
  if (Array.isArray(schema.type)) return schema.type.join(' | ')
  return String(schema.type ?? 'object')
}

export function renderDocsPage(document: Json): string {
  const info = document.info as Json
  const paths = document.paths as Record<string, Record<string, Json>>
  const schemas = (document.components as Json).schemas as Record<string, Json>
  const byTag = new Map<string, string[]>()
  for (const [path, methods] of Object.entries(paths)) {
    const op = methods.get!
    const params = (op.parameters as Json[]).map((p) => {
      const schema = p.schema as Json
      const extra = [schema.default !== undefined ? `default ${escape(JSON.stringify(schema.default))}` : '', p.description ? escape(p.description) : ''].filter(Boolean).join('; ')
      return `<tr><td><code>${escape(p.name)}</code></td><td>${escape(p.in)}${p.required ? ', required' : ''}</td><td>${escape(typeOf(schema))}</td><td>${extra}</td></tr>`
    }).join('')
    const response = ((op.responses as Json)['200'] as Json).content as Json
    const shape = typeOf(((response['application/json'] as Json).schema as Json))
    const html = `<section><h3><span class="m">GET</span> <code>${escape(path)}</code></h3><p>${escape(op.summary)}</p>
${params ? `<table><tr><th>parameter</th><th>in</th><th>type</th><th>notes</th></tr>${params}</table>` : ''}
<p class="r">200: <code>${escape(shape)}</code> · errors: <code>{"error": {"code", "message"}}</code></p></section>`
    const tag = (op.tags as string[])[0]!
    byTag.set(tag, [...(byTag.get(tag) ?? []), html])
  }
  const models = Object.entries(schemas).map(([name, schema]) => {
    const properties = Object.entries((schema.properties ?? {}) as Record<string, Json>)
      .map(([field, s]) => `<tr><td><code>${escape(field)}</code></td><td>${escape(typeOf(s))}</td><td>${escape(s.description ?? '')}</td></tr>`).join('')
    return `<section id="${escape(name)}"><h3>${escape(name)}</h3><table><tr><th>field</th><th>type</th><th>notes</th></tr>${properties}</table></section>`
  }).join('\n')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(info.title)}</title><style>
body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1d232b}
code{font:13px ui-monospace,monospace;background:#f2f4f7;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border-bottom:1px solid #e3e7ec;padding:4px 8px;text-align:left;vertical-align:top}
.m{background:#0b7a4b;color:#fff;border-radius:3px;padding:1px 6px;font-size:12px}.r{color:#555}section{margin-bottom:1.5em}
</style></head><body><h1>${escape(info.title)} <small>${escape(info.version)}</small></h1><p>${escape(info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Live events: WebSocket <code>/v1/ws</code>; gRPC services with reflection on the gRPC port.</p>
${[...byTag].map(([tag, sections]) => `<h2>${escape(tag)}</h2>${sections.join('\n')}`).join('\n')}
<h2>Models</h2>${models}</body></html>`
}
