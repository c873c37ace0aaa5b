/**
 * origin-headers: what the origin is sent of a client's request, for a pass and for a fill: the fields never
 * forwarded, the fields a fill drops unless the answer varies on them, and the forwarding fields corral sets.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { connectionListed, isHopByHop, joinValue, VIA } from './headers.js'
import { normalizeAcceptEncoding, normalizeAcceptLanguage } from './vary.js'
import { SURROGATE_CAPABILITY } from './surrogate.js'
import { hasName, makeCredentialFields, makeHeaderNameSet, namesIn, NOT_FORWARDED, NOT_FORWARDED_ON_FILL, underscoreNames } from './header-names.js'
import { withoutIgnoredCookies, type CookieRules } from './cookies.js'

export { NOT_FORWARDED_ON_FILL } from './header-names.js'

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

const BUILT_IN_CREDENTIALS = makeCredentialFields([])

/**
 * Does the request carry a credential-like field (core/header-names.ts CREDENTIAL_FIELDS, any spelling) that a fill
 * would send? Ignored cookies do not count, nor underscore names a fill drops: the origin never sees them, so they
 * cannot make its answer personal. Read for every miss, also by waiters, so it builds no headers.
 */
export function isCredentialed (headers: IncomingHttpHeaders, rules: FillHeaderRules): boolean {
  const fields = rules.credentials ?? BUILT_IN_CREDENTIALS
  const dropUnderscore = rules.dropUnderscore !== false
  for (const name in headers) {
    if (headers[name] === undefined) continue
    if (name === 'cookie') {
      if (withoutIgnoredCookies(headers.cookie, rules.cookies?.ignored ?? null) !== undefined) return true
    } else if (!(dropUnderscore && name.includes('_')) && hasName(fields, name)) {
      return true
    }
  }
  return false
}
