/** Header helpers shared by fetch, pass, policy and deliver. */
import type { IncomingHttpHeaders } from 'node:http'
import { hasName, makeCredentialFields, makeHeaderNameSet, namesIn, normalizeHeaderName, NOT_FORWARDED, NOT_FORWARDED_ON_FILL, underscoreNames } from './header-names.js'
import { withoutIgnoredCookies, type CookieRules } from './cookies.js'

import { normalizeAcceptEncoding } from './accept-encoding.js'

export { NOT_FORWARDED_ON_FILL } from './header-names.js'
export { normalizeAcceptEncoding } from './accept-encoding.js'

export type HeaderValue = string | string[] | undefined
export type HeaderRecord = Record<string, HeaderValue>

/** RFC 9110 §7.6.1: hop-by-hop fields, never forwarded and never stored. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-connection', 'proxy-authenticate', 'proxy-authorization'
])

/** Header names that Connection lists are hop-by-hop for this message too. */
function connectionListed (connection: HeaderValue): Set<string> | null {
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

/** How a fill treats the NOT_FORWARDED_ON_FILL fields, resolved when the config loads. */
export interface FillHeaderRules {
  /** Not forwarded on a fill unless the URL's Vary index names them. */
  readonly dropped: readonly string[]
  /**
   * cache.forwardRequestHeaders: forwarded on every fill and part of every variant's key, as if the origin had sent
   * `Vary` with them, so a value one client sends is served only to clients sending the same value.
   */
  readonly keyed: readonly string[]
  /** `dropped` as a set of normalised names (core/header-names.ts): any spelling of a dropped name is dropped. */
  readonly droppedNames?: ReadonlySet<string>
  /** cache.dropUnderscoreHeaders: names with `_` are not forwarded on fills (nginx's default). Absent: dropped. */
  readonly dropUnderscore?: boolean
  /** Credential-like fields (core/header-names.ts CREDENTIAL_FIELDS plus cache.credentialHeaders), normalised. */
  readonly credentials?: ReadonlySet<string>
  /** cache.requestCookies and cache.ignoredCookies (core/cookies.ts). */
  readonly cookies?: CookieRules
}

export interface FillHeaderOptions {
  readonly dropUnderscore: boolean
  readonly credentialHeaders: readonly string[]
  readonly cookies: CookieRules | undefined
}

export function makeFillHeaderRules (allowed: readonly string[], options?: FillHeaderOptions): FillHeaderRules {
  const keyed = [...new Set(allowed.map((name) => name.toLowerCase()))]
  const dropped = [...NOT_FORWARDED_ON_FILL].filter((name) => !keyed.includes(name))
  const rules = { dropped, keyed, droppedNames: makeHeaderNameSet(dropped), credentials: makeCredentialFields(options?.credentialHeaders ?? []) }
  if (options === undefined) return rules
  return { ...rules, dropUnderscore: options.dropUnderscore, ...(options.cookies === undefined ? null : { cookies: options.cookies }) }
}

/**
 * Removes from a fill's `originHeaders` (in place) the fields `rules` drop, except those the URL's Vary index names,
 * and answers the client's headers as the origin received them: the variant is keyed by what the origin saw, so an
 * answer made without a dropped field is stored as the answer for a request without it, and waiters without it
 * share it. Most requests carry none of them: then `incoming` itself is answered and nothing is copied.
 */
export function dropAnswerShaping (
  originHeaders: Record<string, string | string[]>, incoming: IncomingHttpHeaders, rules: FillHeaderRules, varyHeaders: readonly string[] | null
): IncomingHttpHeaders {
  let seen: IncomingHttpHeaders = incoming
  const drop = (name: string): void => {
    delete originHeaders[name]
    if (seen === incoming) seen = { ...incoming }
    delete seen[name]
  }
  // Compared in every spelling (core/header-names.ts): `X_Forwarded_Server` is X-Forwarded-Server to PHP or Rack.
  for (const name of namesIn(incoming, rules.droppedNames ?? new Set(rules.dropped)) ?? []) {
    if (!(varyHeaders?.includes(name) ?? false)) drop(name)
  }
  if (rules.dropUnderscore !== false) for (const name of underscoreNames(incoming) ?? []) if (seen[name] !== undefined) drop(name)
  const ignored = rules.cookies?.ignored ?? null
  if (ignored !== null && incoming.cookie !== undefined) {
    const kept = withoutIgnoredCookies(incoming.cookie, ignored)
    if (kept !== incoming.cookie) {
      if (kept === undefined) {
        drop('cookie')
      } else {
        originHeaders.cookie = kept
        if (seen === incoming) seen = { ...incoming }
        seen.cookie = kept
      }
    }
  }
  return seen
}

/** A response's Vary names plus the fields the operator forwards on fills (FillHeaderRules.keyed), each once. */
export function withKeyedHeaders (vary: string[] | null, keyed: readonly string[]): string[] | null {
  if (keyed.length === 0 || vary?.includes('*') === true) return vary
  const names = vary === null ? [] : [...vary]
  for (const name of keyed) if (!names.includes(name)) names.push(name)
  return names
}

/** Request headers for the origin: hop-by-hop removed, forwarding fields set (RFC 9110 §7.6.3, RFC 7239 de facto). */
export function makeOriginRequestHeaders (
  incoming: IncomingHttpHeaders,
  clientAddress: string | undefined,
  proto: string,
  overrides: Readonly<Record<string, string | null>> | null
): Record<string, string | string[]> {
  const listed = connectionListed(incoming.connection)
  const out: Record<string, string | string[]> = {}
  for (const name in incoming) {
    const value = incoming[name]
    if (value === undefined || isHopByHop(name) || (listed !== null && hasName(listed, name))) continue
    if (hasName(NOT_FORWARDED, name) || name.startsWith('x-corral-')) continue
    out[name] = value
  }
  const priorFor = incoming['x-forwarded-for']
  const forwardedFor = clientAddress === undefined
    ? priorFor
    : priorFor === undefined ? clientAddress : `${joinValue(priorFor) as string}, ${clientAddress}`
  if (forwardedFor !== undefined) out['x-forwarded-for'] = forwardedFor
  if (incoming.host !== undefined) out['x-forwarded-host'] = incoming.host
  out['x-forwarded-proto'] = proto
  const via = incoming.via
  out.via = via === undefined ? VIA : `${joinValue(via) as string}, ${VIA}`
  if (overrides !== null) {
    for (const name in overrides) {
      const value = overrides[name]
      if (value === null || value === undefined) delete out[name]
      else out[name] = value
    }
  }
  return out
}

/** The W3C Edge Architecture device token corral answers to (`max-age=60;corral`). */
export const SURROGATE_DEVICE = 'corral'

/** Sent on fills (W3C Edge Architecture 1.0 §2.1) so the origin knows a surrogate named corral is there. */
export const SURROGATE_CAPABILITY = `${SURROGATE_DEVICE}="Surrogate/1.0"`

/** A pass is told of corral too: an origin may answer it with Surrogate-Control for corral. */
const PASS_OVERRIDES = { 'surrogate-capability': SURROGATE_CAPABILITY }

/** Request fields never forwarded on a fill: the stored response must be the full, unconditional one. */
const FILL_OVERRIDES = {
  'if-none-match': null,
  'if-modified-since': null,
  'if-match': null,
  'if-unmodified-since': null,
  'if-range': null,
  range: null,
  // W3C Edge Architecture §2.1: tells the origin a surrogate named corral honours its Surrogate-Control.
  'surrogate-capability': SURROGATE_CAPABILITY
}

/**
 * The origin request headers for a pass (the client's request, forwarded) or a fill (an answer for everyone the key
 * names). A fill asks for the host the key names (`keyHost`: case, `:80` and a trailing dot are the client's
 * spelling; what is stored under the key is the answer for that spelling), unconditionally, and with the normalised
 * Accept-Encoding the variant is keyed by. The one place origin request headers are made.
 */
export function makeOriginHeaders (
  incoming: IncomingHttpHeaders, clientAddress: string | undefined, role: 'pass' | 'fill', keyHost: string
): Record<string, string | string[]> {
  if (role === 'pass') return makeOriginRequestHeaders(incoming, clientAddress, 'http', PASS_OVERRIDES)
  return makeOriginRequestHeaders(incoming, clientAddress, 'http', {
    ...FILL_OVERRIDES,
    ...(incoming.host === undefined ? null : { host: keyHost, 'x-forwarded-host': keyHost }),
    'accept-encoding': incoming['accept-encoding'] === undefined ? null : normalizeAcceptEncoding(incoming['accept-encoding']),
    'accept-language': incoming['accept-language'] === undefined ? null : normalizeAcceptLanguage(incoming['accept-language'])
  })
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
 * Accept-Language (RFC 9110 §12.5.4) as variant keys spell it: ranges lower-cased, whitespace removed, duplicates
 * and `q=0` ranges dropped, ordered by weight (ties keep the client's order, which origins use to break them),
 * weights written the short way (`q=0.50` → `q=0.5`, `q=1` omitted). A malformed member is dropped.
 */
export function normalizeAcceptLanguage (value: HeaderValue): string {
  const text = joinValue(value)
  if (text === undefined || text === '') return ''
  // A browser repeats its Accept-Language on every request: a variant hit normalises it once per change of value.
  if (text === lastLanguage) return lastLanguageNormalized
  lastLanguageNormalized = foldAcceptLanguage(text)
  lastLanguage = text
  return lastLanguageNormalized
}

let lastLanguage: string | undefined
let lastLanguageNormalized = ''

function foldAcceptLanguage (text: string): string {
  const ranges: Array<{ tag: string, q: number, at: number }> = []
  const parts = text.split(',')
  for (let at = 0; at < parts.length; at++) {
    const [rawTag = '', ...params] = (parts[at] as string).split(';')
    const tag = rawTag.trim().toLowerCase()
    if (!/^(?:\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*)$/.test(tag)) continue
    let q = 1
    let valid = true
    for (const param of params) {
      const m = /^\s*q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*$/i.exec(param)
      if (m === null) valid = false
      else q = Number(m[1])
    }
    if (!valid || q === 0 || ranges.some(r => r.tag === tag)) continue
    ranges.push({ tag, q, at })
  }
  ranges.sort((a, b) => b.q - a.q || a.at - b.at)
  return ranges.map(r => (r.q === 1 ? r.tag : `${r.tag};q=${r.q}`)).join(',')
}
