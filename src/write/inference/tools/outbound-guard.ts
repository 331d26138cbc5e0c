/**
 * What the gateway may connect to on behalf of products and tools: public addresses, plus the
 * loopback, private and link-local destinations the operator allowlists (INFERENCE_ALLOW_HOSTS).
 * Pure functions over address text; the socket-level enforcement is in guarded-fetch.ts.
 */
import { BlockList, isIP, isIPv4 } from 'node:net'

export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'unspecified' | 'multicast' | 'reserved'

interface Range {
  bytes: number[]
  prefix: number
  kind: Exclude<AddressClass, 'public'>
}

const v4 = (cidr: string, kind: Range['kind']): Range => {
  const [address, prefix] = cidr.split('/') as [string, string]
  return { bytes: address.split('.').map(Number), prefix: Number(prefix), kind }
}
const v6 = (cidr: string, kind: Range['kind']): Range => {
  const [address, prefix] = cidr.split('/') as [string, string]
  return { bytes: ipv6Bytes(address) as number[], prefix: Number(prefix), kind }
}

const IPV4_RANGES: Range[] = [
  v4('0.0.0.0/8', 'unspecified'),
  v4('127.0.0.0/8', 'loopback'),
  v4('10.0.0.0/8', 'private'),
  v4('172.16.0.0/12', 'private'),
  v4('192.168.0.0/16', 'private'),
  v4('100.64.0.0/10', 'private'), // carrier-grade NAT: another operator's private network
  v4('169.254.0.0/16', 'link-local'), // includes the cloud metadata service 169.254.169.254
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'), // includes the broadcast address 255.255.255.255
  v4('192.0.0.0/24', 'reserved'),
  v4('192.0.2.0/24', 'reserved'),
  v4('198.18.0.0/15', 'reserved'),
  v4('198.51.100.0/24', 'reserved'),
  v4('203.0.113.0/24', 'reserved'),
]

const IPV6_RANGES: Range[] = [
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('fc00::/7', 'private'),
  v6('fec0::/10', 'private'), // deprecated site-local
  v6('fe80::/10', 'link-local'),
  v6('ff00::/8', 'multicast'),
  v6('::/96', 'reserved'), // deprecated IPv4-compatible addresses
  v6('100::/64', 'reserved'), // discard-only
  v6('2001:db8::/32', 'reserved'), // documentation
]

function matches(bytes: readonly number[], range: Range): boolean {
  if (bytes.length !== range.bytes.length) return false
  for (let bit = 0; bit < range.prefix; bit += 8) {
    const mask = range.prefix - bit >= 8 ? 0xff : (0xff << (8 - (range.prefix - bit))) & 0xff
    if (((bytes[bit / 8] ?? 0) & mask) !== ((range.bytes[bit / 8] ?? 0) & mask)) return false
  }
  return true
}

/** The 16 bytes of an IPv6 address (a zone id such as `%eth0` ignored), or null when it is not one. */
function ipv6Bytes(text: string): number[] | null {
  const address = text.replace(/%.*$/, '')
  if (isIP(address) !== 6) return null
  const [head, tail] = address.includes('::') ? (address.split('::') as [string, string]) : [address, null]
  const groups = (part: string): number[] => {
    if (part === '') return []
    const out: number[] = []
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number]
        out.push((a << 8) | b, (c << 8) | d)
      } else out.push(parseInt(group, 16))
    }
    return out
  }
  const first = groups(head)
  const last = tail === null ? [] : groups(tail)
  const words = tail === null ? first : [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last]
  return words.flatMap((word) => [word >> 8, word & 0xff])
}

/**
 * An IPv6 address that only wraps an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, NAT64
 * `64:ff9b::a.b.c.d`) is the IPv4 address as far as where the packets go is concerned.
 */
function embeddedIpv4(bytes: readonly number[]): string | null {
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0)
  const mapped = zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff
  const nat64 = bytes[0] === 0 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zeros(4, 12)
  return mapped || nat64 ? bytes.slice(12).join('.') : null
}

/** The address itself when IPv4 or IPv6, the IPv4 address when an IPv6 address wraps one; null when not an IP address. */
export function normalizeAddress(ip: string): string | null {
  const text = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip
  if (isIPv4(text)) return text
  const bytes = ipv6Bytes(text)
  if (!bytes) return null
  return embeddedIpv4(bytes) ?? text.replace(/%.*$/, '').toLowerCase()
}

/** What kind of destination an IP address is. Text that is not an IP address is `reserved` (never connectable). */
export function classifyAddress(ip: string): AddressClass {
  const address = normalizeAddress(ip)
  if (address === null) return 'reserved'
  const ipv4 = isIPv4(address)
  const bytes = ipv4 ? address.split('.').map(Number) : (ipv6Bytes(address) as number[])
  for (const range of ipv4 ? IPV4_RANGES : IPV6_RANGES) if (matches(bytes, range)) return range.kind
  return 'public'
}

export interface HostAllowlist {
  /** Whether a connection to `ip` for the URL host `host` on `port` is allowed although not public. */
  allows(host: string, port: number, ip: string): boolean
}

/** An INFERENCE_ALLOW_HOSTS entry that is none of the accepted forms. */
export class AllowHostsEntryError extends Error {
  override readonly name = 'AllowHostsEntryError'
  constructor(readonly entry: string) {
    super(`INFERENCE_ALLOW_HOSTS entry "${entry}" is not a host name, host:port, [IPv6]:port, IP address or CIDR block (10.1.0.0/16, fd00::/8)`)
  }
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/

const normalizeHost = (host: string): string => {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  return (normalizeAddress(bare) ?? bare).toLowerCase().replace(/\.$/, '')
}

const parsePort = (text: string): number | null => {
  if (!/^\d{1,5}$/.test(text)) return null
  const port = Number(text)
  return port >= 1 && port <= 65535 ? port : null
}

/**
 * An allowlist from entries in four forms: a host name (`localhost`, matched against the URL's
 * host, any port), `host:port` (`127.0.0.1:8080`, `[::1]:8080`), an IP address (any port) or a
 * CIDR block (`10.1.0.0/16`, `fd00::/8`, any port). IP entries match the address connected to.
 * Throws AllowHostsEntryError on an entry of no known form.
 */
export function createHostAllowlist(entries: readonly string[]): HostAllowlist {
  const blocks = new BlockList()
  let anyBlock = false
  const names = new Map<string, number | null>() // host (or IP) -> port, null for any port
  const exact: Array<{ host: string; port: number | null }> = []

  for (const raw of entries) {
    const entry = raw.trim().toLowerCase()
    if (entry === '') continue
    if (entry.includes('/')) {
      const [network, prefixText = ''] = entry.split('/') as [string, string]
      const address = normalizeAddress(network)
      const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN
      if (address === null) throw new AllowHostsEntryError(raw)
      const family = isIPv4(address) ? 'ipv4' : 'ipv6'
      // A mapped IPv6 block (::ffff:10.0.0.0/104) is kept as the IPv4 block it wraps.
      const bits = family === 'ipv4' && !isIPv4(network) ? prefix - 96 : prefix
      if (!Number.isInteger(bits) || bits < 0 || bits > (family === 'ipv4' ? 32 : 128)) throw new AllowHostsEntryError(raw)
      blocks.addSubnet(address, bits, family)
      anyBlock = true
      continue
    }
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry)
    if (bracketed) {
      const address = normalizeAddress(bracketed[1] as string)
      const port = bracketed[2] === undefined ? null : parsePort(bracketed[2])
      if (address === null || (bracketed[2] !== undefined && port === null)) throw new AllowHostsEntryError(raw)
      exact.push({ host: address, port })
      continue
    }
    if (isIP(entry)) {
      exact.push({ host: normalizeAddress(entry) as string, port: null })
      continue
    }
    const colon = entry.lastIndexOf(':')
    const host = colon === -1 ? entry : entry.slice(0, colon)
    const port = colon === -1 ? null : parsePort(entry.slice(colon + 1))
    if (colon !== -1 && port === null) throw new AllowHostsEntryError(raw)
    const address = normalizeAddress(host)
    if (address !== null) exact.push({ host: address, port })
    else if (HOST_NAME.test(host.replace(/\.$/, ''))) names.set(host.replace(/\.$/, ''), port)
    else throw new AllowHostsEntryError(raw)
  }

  return {
    allows(host, port, ip) {
      const name = normalizeHost(host)
      const address = normalizeAddress(ip)
      if (names.has(name)) {
        const allowedPort = names.get(name)
        if (allowedPort === null || allowedPort === port) return true
      }
      for (const entry of exact) {
        if ((entry.host === address || entry.host === name) && (entry.port === null || entry.port === port)) return true
      }
      if (anyBlock && address !== null) return blocks.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')
      return false
    },
  }
}

const ARTICLE: Record<AddressClass, string> = {
  public: 'a public',
  loopback: 'a loopback',
  private: 'a private',
  'link-local': 'a link-local',
  unspecified: 'an unspecified',
  multicast: 'a multicast',
  reserved: 'a reserved',
}

/** The URL without credentials, query or fragment, which may carry secrets. */
const describeUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`
  } catch {
    return url
  }
}

/** A request refused before connecting because its destination is not public and not allowlisted. */
export class DestinationRefusedError extends Error {
  override readonly name = 'DestinationRefusedError'
  readonly code = 'destination_refused'
  readonly addressClass: AddressClass
  constructor(
    readonly url: string,
    readonly host: string,
    readonly address: string,
  ) {
    const addressClass = classifyAddress(address)
    const bareHost = normalizeHost(host)
    const what = bareHost === normalizeAddress(address) ? `${address} is ${ARTICLE[addressClass]} address` : `${bareHost} resolves to ${address}, ${ARTICLE[addressClass]} address`
    super(`refused ${describeUrl(url)}: ${what}; allow it with INFERENCE_ALLOW_HOSTS`)
    this.addressClass = addressClass
  }
}
