/**
 * origin-headers: what the origin is sent of a client's request, for a pass and for a fill: the fields never
 * forwarded, the fields a fill drops unless the answer varies on them, and the forwarding fields corral sets.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { connectionListed, isHopByHop, joinValue, VIA } from './headers.js'
import { normalizeAcceptEncoding, normalizeAcceptLanguage } from './vary.js'
import { SURROGATE_CAPABILITY } from './surrogate.js'

/**
 * Client request fields never sent to the origin:
 * - forwarding fields a client could forge (corral sets X-Forwarded-For/-Proto/-Host itself): they would let a client
 *   change what the origin renders (links, redirects, the page it routes to) without changing the cache key;
 * - Expect: Node's server has already answered `100-continue` to the client, and undici refuses to send it
 *   (UND_ERR_NOT_SUPPORTED), which failed the request, and on a fill every request waiting on it, with 502.
 * corral's own X-Corral-* fields are dropped too (by prefix).
 */
const NOT_FORWARDED = new Set([
  'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-ssl',
  'x-forwarded-scheme', 'forwarded', 'x-original-url', 'x-rewrite-url', 'expect'
])

/**
 * Client request fields a fill does not forward, unless the answer says it depends on them (a Vary naming them, known
 * from the URL's Vary index) or the operator allows them (cache.forwardRequestHeaders). A fill's answer is stored
 * and served to everyone; each of these lets one client change that answer without changing its key:
 * - method overrides (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override): frameworks (Express
 *   method-override, Symfony, ASP.NET, Rack) treat a request carrying one as that method. A GET fill with
 *   `X-HTTP-Method-Override: DELETE` got the origin's 405 (`public, max-age=60`), served from cache to every client
 *   for 60 s (issue 13);
 * - host-like fields (X-Host, X-Forwarded-Server, X-Original-Host, and their neighbour X-HTTP-Host-Override):
 *   read as the host by frameworks and proxies to build links and redirects; a reflected value was cached;
 * - path-like fields of the X-Original-URL class that NOT_FORWARDED does not already drop (X-Original-URI from nginx
 *   auth_request, X-Forwarded-URI from Traefik): read as the request path by some apps.
 * Passes keep them: a pass's answer reaches only the client that sent the field, and a POST carrying
 * `X-HTTP-Method-Override: DELETE` is how clients behind GET/POST-only proxies ask for a DELETE (a successful one
 * still invalidates the URL, RFC 9111 §4.4).
 */
export const NOT_FORWARDED_ON_FILL: ReadonlySet<string> = new Set([
  'x-http-method-override', 'x-http-method', 'x-method-override',
  'x-host', 'x-forwarded-server', 'x-original-host', 'x-http-host-override',
  'x-original-uri', 'x-forwarded-uri'
])

/** How a fill treats the NOT_FORWARDED_ON_FILL fields, resolved when the config loads. */
export interface FillHeaderRules {
  /** Not forwarded on a fill unless the URL's Vary index names them. */
  readonly dropped: readonly string[]
  /**
   * cache.forwardRequestHeaders: forwarded on every fill and part of every variant's key, as if the origin had sent
   * `Vary` with them, so a value one client sends is served only to clients sending the same value.
   */
  readonly keyed: readonly string[]
}

export function makeFillHeaderRules (allowed: readonly string[]): FillHeaderRules {
  const keyed = [...new Set(allowed.map((name) => name.toLowerCase()))]
  return { dropped: [...NOT_FORWARDED_ON_FILL].filter((name) => !keyed.includes(name)), keyed }
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
  for (const name of rules.dropped) {
    if (incoming[name] === undefined || (varyHeaders?.includes(name) ?? false)) continue
    delete originHeaders[name]
    if (seen === incoming) seen = { ...incoming }
    delete seen[name]
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
    if (value === undefined || isHopByHop(name) || (listed?.has(name) ?? false)) continue
    if (NOT_FORWARDED.has(name) || name.startsWith('x-corral-')) continue
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
