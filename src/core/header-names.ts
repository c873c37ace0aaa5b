/**
 * header-names: one rule for comparing request field names, and the lists that use it. A name is compared
 * lower-cased with `_` read as `-`: PHP (`$_SERVER['HTTP_X_FORWARDED_HOST']`), WSGI and Rack turn both `-` and `_`
 * into `_`, so `X_Forwarded_Host` reaches such an app as X-Forwarded-Host. A list of exact names let those spellings
 * through to fills, and one client's value was cached for everyone (issue 23). nginx drops underscore names by
 * default (`underscores_in_headers off`) for this reason; corral drops them from fills unless
 * cache.dropUnderscoreHeaders is off.  [pure]
 */
import type { IncomingHttpHeaders } from 'node:http'
import { normalizeHeaderName } from './headers.js'

// The rule itself lives with the other header basics (core/headers.ts, which every list's user already imports).
export { hasName, namesIn, normalizeHeaderName } from './headers.js'

/** A list of names as a set of their normalised spellings. */
export function makeHeaderNameSet (names: Iterable<string>): ReadonlySet<string> {
  const out = new Set<string>()
  for (const name of names) out.add(normalizeHeaderName(name))
  return out
}

/** Underscore names in `headers`, or null: dropped from fills by default (see the file comment). */
export function underscoreNames (headers: IncomingHttpHeaders): string[] | null {
  let found: string[] | null = null
  for (const name in headers) if (name.includes('_') && headers[name] !== undefined) (found ??= []).push(name)
  return found
}

/**
 * Fields that make a request's answer possibly about that requester alone (an origin personalises on them): an
 * uncacheable answer to a request carrying one says nothing about anonymous requests (coalesce/miss.ts).
 * - Cookie, Authorization: the standard credentials (RFC 9111 §3.5 for Authorization);
 * - Cookie2: RFC 2965's obsolete companion, still read by some stacks;
 * - X-Api-Key, X-Auth-Token, X-Access-Token, X-Session-Token: API keys and session tokens by convention (AWS API
 *   Gateway, OpenStack, many REST APIs);
 * - X-CSRF-Token, X-XSRF-Token: anti-forgery tokens, tied to a session (Rails, Laravel, Angular).
 * cache.credentialHeaders adds more.
 */
export const CREDENTIAL_FIELDS: readonly string[] = [
  'cookie', 'authorization', 'cookie2',
  'x-api-key', 'x-auth-token', 'x-access-token', 'x-session-token',
  'x-csrf-token', 'x-xsrf-token'
]

/** The credential-like fields in force: the built-in ones plus the operator's, normalised. */
export function makeCredentialFields (extra: readonly string[]): ReadonlySet<string> {
  return makeHeaderNameSet([...CREDENTIAL_FIELDS, ...extra])
}

/**
 * Client request fields never sent to the origin, on a pass or a fill:
 * - forwarding fields a client could forge (corral sets X-Forwarded-For/-Proto/-Host itself): they would let a client
 *   change what the origin renders (links, redirects, the page it routes to) without changing the cache key;
 * - Expect: Node's server has already answered `100-continue` to the client, and undici refuses to send it
 *   (UND_ERR_NOT_SUPPORTED), which failed the request, and on a fill every request waiting on it, with 502.
 * corral's own X-Corral-* fields are dropped too (by prefix, core/headers.ts).
 */
export const NOT_FORWARDED: ReadonlySet<string> = new Set([
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
 *   for 60 s (issue 13); X-Original-Method (nginx auth_request, some gateways) and X-Method are read the same way;
 * - host-like fields (X-Host, X-Forwarded-Server, X-Original-Host, and their neighbour X-HTTP-Host-Override):
 *   read as the host by frameworks and proxies to build links and redirects; a reflected value was cached;
 * - path-like fields of the X-Original-URL class that NOT_FORWARDED does not already drop (X-Original-URI from nginx
 *   auth_request, X-Forwarded-URI from Traefik), and X-Forwarded-Path, X-Script-Name (WSGI's SCRIPT_NAME behind a
 *   proxy, Flask/Django prefix middleware) and X-Override-URL: read as the request path or its prefix, so every
 *   link on the page moves;
 * - scheme-like fields: X-Scheme (nginx convention, Werkzeug ProxyFix), X-Forwarded-Protocol and X-Url-Scheme
 *   (Rack's ssl detection reads both), Front-End-Https (Microsoft OWA, Rack) and X-Original-Proto: read as the
 *   scheme, so one client's `https` or `http` ends up in every cached link, redirect and HSTS decision (issue 23).
 * Passes keep them: a pass's answer reaches only the client that sent the field, and a POST carrying
 * `X-HTTP-Method-Override: DELETE` is how clients behind GET/POST-only proxies ask for a DELETE (a successful one
 * still invalidates the URL, RFC 9111 §4.4).
 */
export const NOT_FORWARDED_ON_FILL: ReadonlySet<string> = new Set([
  'x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-method', 'x-method',
  'x-host', 'x-forwarded-server', 'x-original-host', 'x-http-host-override',
  'x-original-uri', 'x-forwarded-uri', 'x-forwarded-path', 'x-script-name', 'x-override-url',
  'x-scheme', 'x-forwarded-protocol', 'x-url-scheme', 'front-end-https', 'x-original-proto'
])
