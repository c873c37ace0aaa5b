/** Header list utilities shared by every stage: hop-by-hop fields, flat header arrays, Via, one value of a list. */
import type { IncomingHttpHeaders } from 'node:http'

export type HeaderValue = string | string[] | undefined
export type HeaderRecord = Record<string, HeaderValue>

/** RFC 9110 §7.6.1: hop-by-hop fields, never forwarded and never stored. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-connection', 'proxy-authenticate', 'proxy-authorization'
])

/** Header names that Connection lists are hop-by-hop for this message too. */
export function connectionListed (connection: HeaderValue): Set<string> | null {
  // Almost every message says one of these, which name no field: nothing to split, nothing to allocate (compared
  // directly: hashing a fresh header string for a Set lookup cost more than the comparison, --perf on a hit).
  if (connection === undefined || connection === 'keep-alive' || connection === 'close' || connection === 'Keep-Alive') return null
  const value = Array.isArray(connection) ? connection.join(',') : connection
  const names = new Set<string>()
  for (const part of value.split(',')) {
    const name = normalizeHeaderName(part.trim())
    if (name !== '' && name !== 'close' && name !== 'keep-alive') names.add(name)
  }
  return names.size > 0 ? names : null
}

/**
 * Remove the fields a request's Connection header names (RFC 9110 §7.6.1) from the request itself, so the cache key,
 * the Vary variant and the origin all see the same headers: a variant keyed on a field the origin never received
 * could be poisoned with an answer made without it.
 */
export function dropConnectionListed (headers: IncomingHttpHeaders): void {
  const listed = connectionListed(headers.connection)
  if (listed === null) return
  // Every spelling of a listed name (core/header-names.ts): `Connection: X-Foo` takes `X_Foo` with it.
  for (const name of namesIn(headers, listed) ?? []) {
    if (name !== 'host') delete headers[name]
  }
}

export function isHopByHop (name: string): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-')
}

/**
 * A response's end-to-end headers as a flat `[name, value, …]` array for `writeHead`, minus hop-by-hop fields and
 * `skip` (names the caller replaces). Multi-valued fields stay separate pairs (Set-Cookie must not be joined).
 */
export function toFlatHeaders (headers: HeaderRecord, skip: ReadonlySet<string>, skipToo: ReadonlySet<string> | null = null): string[] {
  const listed = connectionListed(headers.connection)
  const flat: string[] = []
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || isHopByHop(name) || skip.has(name) || (skipToo?.has(name) ?? false) || (listed !== null && hasName(listed, name))) continue
    if (Array.isArray(value)) {
      for (const v of value) flat.push(name, v)
    } else {
      flat.push(name, value)
    }
  }
  return flat
}

export const VIA = '1.1 corral'

export function firstValue (value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

export function joinValue (value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value
}

/** Append our Via to a response's (already flat) headers: to the last Via field, so ours comes after every hop before. */
export function appendVia (flat: string[]): void {
  for (let i = flat.length - 2; i >= 0; i -= 2) {
    if (flat[i] === 'via') {
      flat[i + 1] = `${flat[i + 1] as string}, ${VIA}`
      return
    }
  }
  flat.push('via', VIA)
}

/**
 * A stored Via value without the entry appendVia added at its end, or undefined when that entry was all of it: what
 * the origin said, for a stored response whose headers are built again (a 304's merge), so ours is appended once.
 */
export function removeOwnVia (value: string): string | undefined {
  if (value === VIA) return undefined
  const own = `, ${VIA}`
  return value.endsWith(own) ? value.slice(0, -own.length) : value
}

/**
 * One rule for comparing request field names (core/header-names.ts has the lists that use it): lower-case, `_` read as
 * `-`, because PHP, WSGI and Rack turn both into `_`, so `X_Forwarded_Host` reaches such an app as X-Forwarded-Host.
 */
export function normalizeHeaderName (name: string): string {
  const lower = name.toLowerCase()
  return lower.includes('_') ? lower.replaceAll('_', '-') : lower
}

/** Does `names` hold `name` in its normalised spelling? The common name (no `_`) costs one lookup. */
export function hasName (names: ReadonlySet<string>, name: string): boolean {
  return names.has(name) || (name.includes('_') && names.has(normalizeHeaderName(name)))
}

/**
 * The names in `headers` (node:http's lower-cased record) whose normalised spelling is in `names`. Most requests
 * match none: then nothing is allocated.
 */
export function namesIn (headers: IncomingHttpHeaders, names: ReadonlySet<string>): string[] | null {
  let found: string[] | null = null
  for (const name in headers) {
    if (headers[name] === undefined) continue
    if (names.has(name) || (name.includes('_') && names.has(normalizeHeaderName(name)))) (found ??= []).push(name)
  }
  return found
}
