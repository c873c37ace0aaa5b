/**
 * key: which cache entry a request names. Pure. The key is `host + path + ?query`, normalised so that
 * spellings a client controls (host case, parameter order, tracking tags) do not split or poison entries.
 */
import type { Config } from './config/types.js'
import { joinValue, type HeaderRecord, type HeaderValue } from './core/headers.js'
import { normalizeAcceptEncoding, normalizeAcceptLanguage } from './core/vary.js'
import { normalizeHost, splitTarget } from './core/target.js'

export interface KeyOptions {
  readonly sortQuery: boolean
  readonly ignoreQueryParams: ReadonlySet<string>
  readonly includeHost: boolean
}

export function makeKeyOptions (config: Config): KeyOptions {
  const { sortQuery, ignoreQueryParams, includeHost } = config.cache.key
  return { sortQuery, ignoreQueryParams: new Set(ignoreQueryParams), includeHost }
}

/** The path of a request target, in either form. */
export function pathOf (rawUrl: string): string {
  if (rawUrl.charCodeAt(0) !== 47) return splitTarget(rawUrl).path
  const q = rawUrl.indexOf('?')
  return q === -1 ? rawUrl : rawUrl.slice(0, q)
}

/**
 * RFC 9110 §7.2 / RFC 3986 §3.2.2: a Host is a reg-name or an IP literal, and a port. Anything else (a `/`, a space,
 * an `@`) is refused with 400: the key is host + path, so a Host containing `/` could name another page's key.
 */
const HOST = /^(?:[a-z0-9\-._~%!$&'()*+,;=]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i

export function isValidHost (host: string): boolean {
  return host.length <= 255 && HOST.test(host)
}

/** The primary cache key: host + path + the normalised query (see normalizeQuery). */
export function makeCacheKey (host: string | undefined, path: string, normalizedQuery: string, options: KeyOptions): string {
  return joinKey(options.includeHost ? normalizeHost(host) : '', path, normalizedQuery)
}

/** The key from its parts, the host already normalised (or '' when keys leave the host out). One concatenation without a query. */
export function joinKey (keyHost: string, path: string, normalizedQuery: string): string {
  const key = normalizedQuery === '' ? keyHost + path : `${keyHost}${path}?${normalizedQuery}`
  // V8 keeps a concatenation as a rope: hashing it for the LRU's Map and comparing it with the stored key then go
  // through the runtime, over half of a memory hit's lookup (--perf). Reading a character flattens it, once.
  if (key.charCodeAt(0) === -1) return ''
  return key
}

/** What a request target and Host name, for the cache and for the origin. */
export interface Target {
  readonly path: string
  readonly normalizedQuery: string
  /** The host as keys spell it ('' when the request named none). */
  readonly keyHost: string
  readonly primaryKey: string
  /** What a pass asks the origin for: the target as sent, in origin-form. Fills ask for exactly what the key names. */
  readonly forwardUrl: string
}

/**
 * Resolve a request target (origin-form or absolute-form) and Host into a key: the one way keys are built, for
 * requests and purges alike. Null when the Host is not a host, or an absolute-form target names another host than the
 * one the origin will be told: either could file one page under another page's key (answer 400).
 */
export function resolveTarget (rawUrl: string, host: string | undefined, options: KeyOptions, hosts: HostNormalizer): Target | null {
  // Origin-form (almost every request) is split inline: no object to allocate.
  let path: string
  let query: string
  let targetHost: string | undefined
  if (rawUrl.charCodeAt(0) === 47) {
    const q = rawUrl.indexOf('?')
    path = q === -1 ? rawUrl : rawUrl.slice(0, q)
    query = q === -1 ? '' : rawUrl.slice(q + 1)
  } else {
    ({ path, query, host: targetHost } = splitTarget(rawUrl))
  }
  let keyHost = ''
  if (host !== undefined) {
    const normalized = hosts.normalize(host)
    if (normalized === null) return null
    keyHost = normalized
  }
  if (targetHost !== undefined && (host === undefined || targetHost.toLowerCase() !== host.toLowerCase())) return null
  const normalizedQuery = normalizeQuery(query, options)
  return {
    path,
    normalizedQuery,
    keyHost,
    primaryKey: joinKey(options.includeHost ? keyHost : '', path, normalizedQuery),
    forwardUrl: targetHost === undefined ? rawUrl : query === '' ? path : `${path}?${query}`
  }
}

/**
 * isValidHost + the host as keys spell it, remembered for the last Host seen: requests to a site repeat the same
 * Host, so the regex and case-folding run once per change of host, not once per request.
 */
export class HostNormalizer {
  #last: string | undefined = undefined
  #normalized: string | null = null

  /** The host as keys spell it, or null when the Host is not a host (answer 400). */
  normalize (host: string): string | null {
    if (host === this.#last) return this.#normalized
    const normalized = isValidHost(host) ? normalizeHost(host) : null
    this.#last = host
    this.#normalized = normalized
    return normalized
  }
}

/**
 * The query as the key names it: ignored parameters dropped, the rest sorted. Fills send the origin this same query,
 * so what is stored under a key is what that key names (a dropped `utm_source` cannot reach a cached page).
 */
export function normalizeQuery (query: string, options: KeyOptions): string {
  if (query === '') return ''
  const { ignoreQueryParams, sortQuery } = options
  if (ignoreQueryParams.size === 0 && !sortQuery) return query
  const parts = query.split('&')
  const kept: string[] = []
  for (const part of parts) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const name = eq === -1 ? part : part.slice(0, eq)
    if (!ignoreQueryParams.has(name)) kept.push(part)
  }
  if (sortQuery) kept.sort()
  return kept.join('&')
}

/**
 * The key of one variant when the origin answered with `Vary`: the primary key, the Vary index's epoch (so a purge
 * orphans every variant), and the request's value of each listed header, normalised (normalizeSelecting).
 */
export function makeVariantKey (primary: string, epoch: string, varyHeaders: readonly string[], headers: HeaderRecord): string {
  let key = `${primary}\n${epoch}`
  for (const name of varyHeaders) key += `\n${name}:${normalizeSelecting(name, headers[name])}`
  return key
}

/**
 * A selecting header's value as variant keys spell it (RFC 9111 §4.1: values may be normalised before matching), so
 * spellings that mean the same do not each make a variant: Accept-Encoding reduced to known codings,
 * Accept-Language by normalizeAcceptLanguage, any other field's lines joined and the whitespace around its commas
 * removed (RFC 9110 §5.6.1 OWS; values stay case-sensitive). Fills send the origin this same value, so what is
 * stored under a variant is the answer to the value that variant names. '' when absent.
 */
export function normalizeSelecting (name: string, value: HeaderValue): string {
  if (name === 'accept-encoding') return normalizeAcceptEncoding(value)
  if (name === 'accept-language') return normalizeAcceptLanguage(value)
  const text = joinValue(value)
  if (text === undefined) return ''
  // Fast path: most values have no whitespace to fold.
  if (!/[ \t]/.test(text)) return text
  return text.split(',').map(part => part.trim()).filter(part => part !== '').join(',')
}
