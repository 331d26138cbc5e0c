import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  AllowHostsEntryError,
  DestinationRefusedError,
  OutboundRequestError,
  ProductContentError,
  classifyAddress,
  createHostAllowlist,
  createToolSet,
  createWebSearch,
  guardedFetch,
  parseRpcTools,
  rpcToolDefinition,
  runRpcTool,
  type GatewayTool,
  type RpcTool,
} from '../src/write/inference/tools/index.js'
import { rejectionOf } from './support/rejection.js'

interface Seen {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: string
}

interface LocalServer {
  url: string
  port: number
  requests: Seen[]
  /** TCP connections accepted, to show a refused request never connected. */
  connections: number
  close(): Promise<void>
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void

async function startServer(handler: Handler): Promise<LocalServer> {
  const requests: Seen[] = []
  const server = createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (part: Buffer) => parts.push(part))
    req.on('end', () => {
      const seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(parts).toString('utf8') }
      requests.push(seen)
      handler(req, res, seen)
    })
  })
  const local: LocalServer = {
    url: '',
    port: 0,
    requests,
    connections: 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
  server.on('connection', () => local.connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  local.port = (server.address() as AddressInfo).port
  local.url = `http://127.0.0.1:${local.port}`
  return local
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

const servers: LocalServer[] = []
async function serve(handler: Handler): Promise<LocalServer> {
  const server = await startServer(handler)
  servers.push(server)
  return server
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

const limits = { timeoutMs: 5_000, maxBytes: 64 * 1024 }

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.31.0.1', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['8.8.8.8', 'public'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fd12::1', 'private'],
    ['fc00::5', 'private'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:8.8.8.8', 'public'],
    ['2606:4700::1111', 'public'],
    ['not an address', 'reserved'],
  ])('%s is %s', (ip, kind) => {
    expect(classifyAddress(ip)).toBe(kind)
  })
})

describe('createHostAllowlist', () => {
  const allowlist = createHostAllowlist(['localhost', '127.0.0.1:8080', '[::1]:9090', '192.168.1.5', '10.1.0.0/16', 'fd00::/8'])

  it('allows a host name on any port, whatever it resolves to', () => {
    expect(allowlist.allows('localhost', 1234, '127.0.0.1')).toBe(true)
    expect(allowlist.allows('LOCALHOST.', 80, '::1')).toBe(true)
    expect(allowlist.allows('metadata.internal', 80, '127.0.0.1')).toBe(false)
  })

  it('allows host:port only on that port, IPv4-mapped addresses included', () => {
    expect(allowlist.allows('127.0.0.1', 8080, '127.0.0.1')).toBe(true)
    expect(allowlist.allows('127.0.0.1', 8081, '127.0.0.1')).toBe(false)
    expect(allowlist.allows('[::ffff:127.0.0.1]', 8080, '::ffff:127.0.0.1')).toBe(true)
    expect(allowlist.allows('[::1]', 9090, '::1')).toBe(true)
    expect(allowlist.allows('[::1]', 9091, '::1')).toBe(false)
  })

  it('allows an IP address on any port and CIDR blocks by the address connected to', () => {
    expect(allowlist.allows('printer.lan', 631, '192.168.1.5')).toBe(true)
    expect(allowlist.allows('192.168.1.6', 80, '192.168.1.6')).toBe(false)
    expect(allowlist.allows('svc.internal', 80, '10.1.200.3')).toBe(true)
    expect(allowlist.allows('svc.internal', 80, '10.2.0.1')).toBe(false)
    expect(allowlist.allows('svc6.internal', 80, 'fd12:3456::1')).toBe(true)
    expect(allowlist.allows('svc6.internal', 80, 'fe80::1')).toBe(false)
  })

  it('refuses entries of no known form, naming them', () => {
    for (const entry of ['10.0.0.0/40', 'host:99999', 'bad host', '[nope]:80']) {
      expect(() => createHostAllowlist([entry])).toThrow(AllowHostsEntryError)
      expect(() => createHostAllowlist([entry])).toThrow(entry)
    }
  })
})

describe('guardedFetch', () => {
  let server: LocalServer
  beforeAll(async () => {
    server = await startServer((req, res, seen) => {
      if (seen.path === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.end('x'.repeat(10_000))
      } else if (seen.path === '/big-chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' })
        for (let i = 0; i < 10; i++) res.write('y'.repeat(1_000))
        res.end()
      } else if (seen.path === '/slow') {
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.write('starting…') // and never finishes
      } else if (seen.path === '/loop') {
        res.writeHead(302, { location: '/loop' })
        res.end()
      } else if (seen.path.startsWith('/to/')) {
        res.writeHead(302, { location: decodeURIComponent(seen.path.slice('/to/'.length)) })
        res.end()
      } else {
        json(res, 200, { method: seen.method, path: seen.path, body: seen.body, header: seen.headers['x-tool'] ?? null })
      }
    })
  })
  afterAll(() => server.close())

  const allowed = () => ({ ...limits, allowHosts: [`127.0.0.1:${server.port}`] })

  it('refuses 127.0.0.1 when not allowlisted, without connecting', async () => {
    const before = server.connections
    const err = await rejectionOf(guardedFetch(`${server.url}/hello`, { ...limits, allowHosts: [] }))
    expect(err).toBeInstanceOf(DestinationRefusedError)
    expect((err as DestinationRefusedError).code).toBe('destination_refused')
    expect((err as Error).message).toBe(`refused ${server.url}/hello: 127.0.0.1 is a loopback address; allow it with INFERENCE_ALLOW_HOSTS`)
    expect(server.connections).toBe(before)
  })

  it.each([
    ['http://10.0.0.1/internal', 'a private'],
    ['http://169.254.169.254/latest/meta-data/', 'a link-local'],
    ['http://[fd00::1]/x', 'a private'],
    ['http://[::ffff:127.0.0.1]:1/x', 'a loopback'],
    ['http://0.0.0.0:1/x', 'an unspecified'],
  ])('refuses %s as %s address before connecting (not a timeout)', async (url, kind) => {
    const err = await rejectionOf(guardedFetch(url, { allowHosts: [], timeoutMs: 300, maxBytes: 1000 }))
    expect(err).toBeInstanceOf(DestinationRefusedError)
    expect((err as Error).message).toContain(`is ${kind} address; allow it with INFERENCE_ALLOW_HOSTS`)
  })

  it('refuses a host name that resolves to loopback', async () => {
    const before = server.connections
    const err = await rejectionOf(guardedFetch(`http://localhost:${server.port}/`, { ...limits, allowHosts: [] }))
    expect(err).toBeInstanceOf(DestinationRefusedError)
    expect((err as Error).message).toMatch(/localhost resolves to (127\.0\.0\.1|::1), a loopback address/)
    expect(server.connections).toBe(before)
  })

  it('fetches an allowlisted local server, method, headers and body included', async () => {
    const answer = await guardedFetch(`${server.url}/echo?a=1`, { ...allowed(), method: 'POST', headers: { 'X-Tool': 'yes' }, body: 'payload' })
    expect(answer.status).toBe(200)
    expect(answer.url).toBe(`${server.url}/echo?a=1`)
    expect(answer.contentType).toBe('application/json')
    expect(answer.headers['content-type']).toBe('application/json')
    expect(JSON.parse(answer.body.toString('utf8'))).toEqual({ method: 'POST', path: '/echo?a=1', body: 'payload', header: 'yes' })
  })

  it('allows localhost when the name is allowlisted', async () => {
    const answer = await guardedFetch(`http://localhost:${server.port}/named`, { ...limits, allowHosts: ['localhost'] }).catch((err: unknown) => err)
    // Where localhost resolves to ::1 only, the server (on 127.0.0.1) is not there: either way the guard let it through.
    if (answer instanceof Error) expect((answer as OutboundRequestError).code).toBe('network')
    else expect((answer as { status: number }).status).toBe(200)
  })

  it('follows redirects on allowed destinations and reports the final URL', async () => {
    const answer = await guardedFetch(`${server.url}/to/${encodeURIComponent('/landed')}`, allowed())
    expect(answer.status).toBe(200)
    expect(answer.url).toBe(`${server.url}/landed`)
  })

  it('refuses a redirect from an allowlisted server to a loopback port that is not allowlisted', async () => {
    const other = await serve((_req, res) => json(res, 200, { secret: true }))
    const err = await rejectionOf(guardedFetch(`${server.url}/to/${encodeURIComponent(`${other.url}/admin`)}`, allowed()))
    expect(err).toBeInstanceOf(DestinationRefusedError)
    expect((err as Error).message).toContain(`refused ${other.url}/admin: 127.0.0.1 is a loopback address`)
    expect(other.connections).toBe(0)
  })

  it('refuses a redirect to the metadata address', async () => {
    const err = await rejectionOf(guardedFetch(`${server.url}/to/${encodeURIComponent('http://169.254.169.254/latest/')}`, { ...allowed(), timeoutMs: 300 }))
    expect(err).toBeInstanceOf(DestinationRefusedError)
  })

  it('stops after maxRedirects', async () => {
    const err = await rejectionOf(guardedFetch(`${server.url}/loop`, { ...allowed(), maxRedirects: 2 }))
    expect(err).toBeInstanceOf(OutboundRequestError)
    expect((err as OutboundRequestError).code).toBe('too_many_redirects')
  })

  it('fails an answer larger than maxBytes instead of cutting it', async () => {
    for (const path of ['/big', '/big-chunked']) {
      const err = await rejectionOf(guardedFetch(`${server.url}${path}`, { ...allowed(), maxBytes: 1_000 }))
      expect(err).toBeInstanceOf(OutboundRequestError)
      expect((err as OutboundRequestError).code).toBe('too_large')
      expect((err as Error).message).toContain('1000 bytes')
    }
  })

  it('times out a server that does not finish its answer', async () => {
    const err = await rejectionOf(guardedFetch(`${server.url}/slow`, { ...allowed(), timeoutMs: 200 }))
    expect(err).toBeInstanceOf(OutboundRequestError)
    expect((err as OutboundRequestError).code).toBe('timeout')
  })

  it('stops when the caller aborts', async () => {
    const controller = new AbortController()
    const pending = rejectionOf(guardedFetch(`${server.url}/slow`, { ...allowed(), signal: controller.signal }))
    controller.abort(new Error('client went away'))
    expect(((await pending) as Error).message).toBe('client went away')
  })

  it.each(['file:///etc/passwd', 'ftp://example.com/file', 'gopher://example.com/', 'not a url'])('rejects %s', async (url) => {
    const err = await rejectionOf(guardedFetch(url, { ...limits, allowHosts: [] }))
    expect(err).toBeInstanceOf(OutboundRequestError)
    expect((err as OutboundRequestError).code).toBe('bad_url')
  })

  it('reports an unreachable allowlisted destination as a network error', async () => {
    const closed = await startServer(() => {})
    await closed.close()
    const err = await rejectionOf(guardedFetch(`${closed.url}/`, { ...limits, allowHosts: ['127.0.0.1'] }))
    expect(err).toBeInstanceOf(OutboundRequestError)
    expect((err as OutboundRequestError).code).toBe('network')
  })
})

describe('parseRpcTools', () => {
  const tool = { name: 'get_user', description: 'Look up a user', request: { url: 'https://api.example.com/users/{id}' } }

  it('reads {"tools": [...]}, an array of tools and one tool, with defaults', () => {
    for (const content of [{ tools: [tool] }, [tool], tool]) {
      const tools = parseRpcTools(JSON.stringify(content), 'Users API')
      expect(tools).toEqual([
        {
          product: 'Users API',
          name: 'get_user',
          description: 'Look up a user',
          parameters: { type: 'object', properties: {} },
          request: { method: 'GET', url: 'https://api.example.com/users/{id}', headers: {} },
        },
      ])
    }
  })

  it('gives the OpenAI tool definition', () => {
    const parameters = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }
    const [parsed] = parseRpcTools(JSON.stringify({ ...tool, parameters }), 'Users API')
    expect(rpcToolDefinition(parsed as RpcTool)).toEqual({ type: 'function', function: { name: 'get_user', description: 'Look up a user', parameters } })
  })

  it.each([
    ['not json', 'its content is not JSON'],
    ['42', 'must be {"tools": [...]}, an array of tools or one tool'],
    ['[]', 'declares no tools'],
    [JSON.stringify({ ...tool, name: 'get user!' }), 'name must be 1 to 64 letters, digits, _ or -'],
    [JSON.stringify({ ...tool, name: 'x'.repeat(65) }), 'name must be 1 to 64'],
    [JSON.stringify({ tools: [tool, { ...tool, name: 'b', description: undefined }] }), 'tools[1].description is required'],
    [JSON.stringify({ ...tool, request: { url: 'file:///etc/passwd' } }), 'request.url must be an http or https URL, not file:'],
    [JSON.stringify({ ...tool, request: { url: 'https://{host}/x' } }), 'placeholders are allowed in the path and query only'],
    [JSON.stringify({ ...tool, request: { url: 'https://a.example/x', method: 'TRACE' } }), 'request.method must be GET, POST, PUT, PATCH or DELETE'],
    [JSON.stringify({ ...tool, parameters: { type: 'string' } }), 'parameters must be a JSON Schema of type "object"'],
    [JSON.stringify({ ...tool, request: undefined }), 'request is required'],
    [JSON.stringify([tool, tool]), 'declares the tool "get_user" twice'],
  ])('refuses %s', (content, problem) => {
    let err: unknown
    try {
      parseRpcTools(content, 'Users API')
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ProductContentError)
    expect((err as Error).message).toContain('product "Users API": ')
    expect((err as Error).message).toContain(problem)
  })
})

describe('runRpcTool', () => {
  const toolAt = (url: string, method = 'GET', headers: Record<string, string> = {}): RpcTool =>
    parseRpcTools(JSON.stringify({ name: 'call', description: 'Calls the API', request: { method, url, headers } }), 'Test API')[0] as RpcTool

  it('GETs with the placeholder filled and the other arguments in the query; the server sees them', async () => {
    const server = await serve((_req, res, seen) => json(res, 200, { user: 'ada', path: seen.path }))
    const tool = toolAt(`${server.url}/users/{id}?fields=name`)
    const text = await runRpcTool(tool, JSON.stringify({ id: 'a b/c', verbose: true, tags: ['x', 'y'] }), { ...limits, allowHosts: [`127.0.0.1:${server.port}`] })
    expect(server.requests).toHaveLength(1)
    expect(server.requests[0]?.method).toBe('GET')
    expect(server.requests[0]?.path).toBe('/users/a%20b%2Fc?fields=name&verbose=true&tags=x&tags=y')
    expect(JSON.parse(text)).toEqual({ user: 'ada', path: '/users/a%20b%2Fc?fields=name&verbose=true&tags=x&tags=y' })
  })

  it('POSTs the arguments as JSON with the tool headers', async () => {
    const server = await serve((_req, res) => json(res, 201, { created: true }))
    const tool = toolAt(`${server.url}/orders/{shop}`, 'POST', { 'X-Api-Key': 'creator-key' })
    const text = await runRpcTool(tool, JSON.stringify({ shop: 'main', item: 'tea', quantity: 2 }), { ...limits, allowHosts: [`127.0.0.1:${server.port}`] })
    expect(text).toBe('{"created":true}')
    const seen = server.requests[0] as Seen
    expect(seen.method).toBe('POST')
    expect(seen.path).toBe('/orders/main')
    expect(seen.headers['content-type']).toBe('application/json')
    expect(seen.headers['x-api-key']).toBe('creator-key')
    expect(JSON.parse(seen.body)).toEqual({ item: 'tea', quantity: 2 })
  })

  it('returns the status with the body of a failed answer', async () => {
    const server = await serve((_req, res) => json(res, 404, { error: 'no such user' }))
    const text = await runRpcTool(toolAt(`${server.url}/users/{id}`), '{"id":"9"}', { ...limits, allowHosts: [`127.0.0.1:${server.port}`] })
    expect(text).toBe('HTTP 404\n{"error":"no such user"}')
  })

  it('answers the model with an error text for bad arguments', async () => {
    const tool = toolAt('http://127.0.0.1:1/users/{id}')
    const options = { ...limits, allowHosts: ['127.0.0.1'] }
    expect(JSON.parse(await runRpcTool(tool, '{not json', options))).toEqual({ error: 'the arguments of call are not valid JSON' })
    expect(JSON.parse(await runRpcTool(tool, '[1]', options))).toEqual({ error: 'the arguments of call must be a JSON object' })
    expect(JSON.parse(await runRpcTool(tool, '{}', options))).toEqual({ error: 'call needs the argument "id"' })
  })

  it('answers the model with the reason when the destination is refused, and nothing is sent', async () => {
    const server = await serve((_req, res) => json(res, 200, { leaked: true }))
    const cases: Array<[string, string]> = [
      [`${server.url}/admin`, '127.0.0.1 is a loopback address'],
      ['http://10.0.0.1/admin', '10.0.0.1 is a private address'],
      ['http://10.200.3.4:8080/admin', '10.200.3.4 is a private address'],
      ['http://169.254.169.254/latest/meta-data/iam', '169.254.169.254 is a link-local address'],
    ]
    for (const [url, reason] of cases) {
      const text = await runRpcTool(toolAt(url), '{}', { allowHosts: [], timeoutMs: 300, maxBytes: 1000 })
      const { error } = JSON.parse(text) as { error: string }
      expect(error).toContain(reason)
      expect(error).toContain('INFERENCE_ALLOW_HOSTS')
    }
    expect(server.connections).toBe(0)
  })

  it('answers the model with an error text for a too large answer and a timeout', async () => {
    const server = await serve((_req, res, seen) => {
      if (seen.path === '/big') res.end('z'.repeat(5_000))
      else res.write('never ends')
    })
    const options = { allowHosts: [`127.0.0.1:${server.port}`], timeoutMs: 300, maxBytes: 1_000 }
    expect(JSON.parse(await runRpcTool(toolAt(`${server.url}/big`), '{}', options)).error).toContain('more than the 1000 allowed')
    expect(JSON.parse(await runRpcTool(toolAt(`${server.url}/slow`), '{}', options)).error).toContain('did not answer within 300 ms')
  })
})

describe('web search', () => {
  const searchOptions = { timeoutMs: 5_000, maxBytes: 64 * 1024 }
  const hits = Array.from({ length: 7 }, (_, i) => ({ title: `Result <b>${i + 1}</b>`, url: `https://example.com/${i + 1}`, content: `About haithe, part ${i + 1}` }))

  it('is off when no provider is configured, or it lacks its key or URL', () => {
    expect(createWebSearch({ provider: 'none', baseUrl: null, apiKey: null }, searchOptions)).toBeNull()
    expect(createWebSearch({ provider: 'tavily', baseUrl: null, apiKey: null }, searchOptions)).toBeNull()
    expect(createWebSearch({ provider: 'brave', baseUrl: null, apiKey: null }, searchOptions)).toBeNull()
    expect(createWebSearch({ provider: 'searxng', baseUrl: null, apiKey: null }, searchOptions)).toBeNull()
  })

  it('searches a local SearXNG (allowed because it is configured) and returns the top 5 results', async () => {
    const server = await serve((_req, res) => json(res, 200, { results: hits }))
    const search = createWebSearch({ provider: 'searxng', baseUrl: `${server.url}/`, apiKey: null }, searchOptions)
    expect(search?.definition.function.name).toBe('web_search')
    expect(search?.definition.function.parameters).toMatchObject({ properties: { query: { type: 'string' } }, required: ['query'] })
    const text = await search?.run(JSON.stringify({ query: 'haithe market' }))
    expect(server.requests[0]?.path).toBe('/search?q=haithe+market&format=json')
    expect(text).toContain('1. Result 1\n   https://example.com/1\n   About haithe, part 1')
    expect(text).toContain('5. Result 5')
    expect(text).not.toContain('Result 6')
  })

  it('calls Tavily with its key and never shows the key in an error', async () => {
    let status = 200
    const server = await serve((_req, res) => json(res, status, status === 200 ? { results: hits.slice(0, 2) } : { detail: 'bad key' }))
    const search = createWebSearch({ provider: 'tavily', baseUrl: server.url, apiKey: 'tvly-secret-key' }, searchOptions)
    const text = await search?.run('{"query":"haithe"}')
    const seen = server.requests[0] as Seen
    expect(seen.method).toBe('POST')
    expect(seen.path).toBe('/search')
    expect(seen.headers.authorization).toBe('Bearer tvly-secret-key')
    expect(JSON.parse(seen.body)).toEqual({ query: 'haithe', max_results: 5 })
    expect(text).toContain('2. Result 2\n   https://example.com/2')
    status = 401
    const failed = (await search?.run('{"query":"haithe"}')) ?? ''
    expect(JSON.parse(failed)).toEqual({ error: 'web search failed: tavily answered HTTP 401' })
    expect(failed).not.toContain('tvly-secret-key')
  })

  it('calls Brave with its subscription token', async () => {
    const server = await serve((_req, res) => json(res, 200, { web: { results: [{ title: 'Brave hit', url: 'https://brave.example/', description: 'A <strong>bold</strong> claim' }] } }))
    const search = createWebSearch({ provider: 'brave', baseUrl: server.url, apiKey: 'brave-token' }, searchOptions)
    const text = await search?.run('{"query":"haithe"}')
    expect(server.requests[0]?.path).toBe('/res/v1/web/search?q=haithe&count=5')
    expect(server.requests[0]?.headers['x-subscription-token']).toBe('brave-token')
    expect(text).toBe('1. Brave hit\n   https://brave.example/\n   A bold claim')
  })

  it('answers the model with an error text when the query is missing', async () => {
    const search = createWebSearch({ provider: 'searxng', baseUrl: 'http://127.0.0.1:1', apiKey: null }, searchOptions)
    expect(JSON.parse((await search?.run('{}')) ?? '')).toEqual({ error: 'web_search needs a "query" string' })
    expect(JSON.parse((await search?.run('nope')) ?? '')).toEqual({ error: 'the arguments of web_search are not valid JSON' })
  })
})

describe('createToolSet', () => {
  const tool = (name: string, answer: string): GatewayTool => ({
    definition: { type: 'function', function: { name, description: answer, parameters: { type: 'object', properties: {} } } },
    run: async (args) => `${answer}:${args}`,
  })

  it('keeps the first tool of a name and runs tools by name', async () => {
    const set = createToolSet([tool('lookup', 'first'), tool('web_search', 'search'), tool('lookup', 'second')])
    expect(set.size).toBe(2)
    expect(set.definitions.map((d) => [d.function.name, d.function.description])).toEqual([
      ['lookup', 'first'],
      ['web_search', 'search'],
    ])
    expect(set.has('lookup')).toBe(true)
    expect(set.has('missing')).toBe(false)
    expect(await set.run('lookup', '{"a":1}')).toBe('first:{"a":1}')
    expect(JSON.parse(await set.run('missing', '{}'))).toEqual({ error: 'there is no tool named "missing"' })
  })
})
