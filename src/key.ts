/**
 * key: which cache entry a request names. Pure. The key is `host + path + ?query`, normalised so that
 * spellings a client controls (host case, parameter order, tracking tags) do not split or poison entries.
 */
import type { Config } from './config/types.js'
import { normalizeAcceptEncoding, type HeaderRecord } from './headers.js'

export interface KeyOptions {
  readonly sortQuery: boolean
  readonly ignoreQueryParams: ReadonlySet<string>
  readonly includeHost: boolean
}

export function makeKeyOptions (config: Config): KeyOptions {
  const { sortQuery, ignoreQueryParams, includeHost } = config.cache.key
  return { sortQuery, ignoreQueryParams: new Set(ignoreQueryParams), includeHost }
}

/** Path and query of a request target; absolute-form (`GET http://h/p`) is reduced to its path. */
export function splitTarget (url: string): { path: string, query: string, host: string | undefined } {
  let target = url
  let host: string | undefined
  if (!target.startsWith('/')) {
    // RFC 9112 §3.2.2: absolute-form; its authority replaces Host.
    try {
      const parsed = new URL(target)
      host = parsed.host
      target = parsed.pathname + parsed.search
    } catch {
      target = '/' + target
    }
  }
  const q = target.indexOf('?')
  return q === -1
    ? { path: target, query: '', host }
    : { path: target.slice(0, q), query: target.slice(q + 1), host }
}

/** The primary cache key for a URL. Fast path: no query and a lower-case host cost one concatenation. */
export function makeCacheKey (host: string | undefined, path: string, query: string, options: KeyOptions): string {
  const h = options.includeHost ? normalizeHost(host) : ''
  if (query === '') return h + path
  const normalized = normalizeQuery(query, options)
  return normalized === '' ? h + path : `${h}${path}?${normalized}`
}

function normalizeHost (host: string | undefined): string {
  if (host === undefined) return ''
  let h = host.toLowerCase()
  if (h.endsWith(':80')) h = h.slice(0, -3)
  if (h.endsWith('.')) h = h.slice(0, -1)
  return h
}

function normalizeQuery (query: string, options: KeyOptions): string {
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
 * orphans every variant), and the request's value of each listed header. Accept-Encoding is normalised.
 */
export function makeVariantKey (primary: string, epoch: string, varyHeaders: readonly string[], headers: HeaderRecord): string {
  let key = `${primary}\n${epoch}`
  for (const name of varyHeaders) {
    const value = headers[name]
    const text = name === 'accept-encoding'
      ? normalizeAcceptEncoding(value)
      : Array.isArray(value) ? value.join(', ') : (value ?? '')
    key += `\n${name}:${text}`
  }
  return key
}

/** `Vary` → lower-case header names; null when absent; ['*'] when it is `*`. */
export function parseVary (value: string | string[] | undefined): string[] | null {
  if (value === undefined) return null
  const text = Array.isArray(value) ? value.join(',') : value
  const names: string[] = []
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase()
    if (name !== '' && !names.includes(name)) names.push(name)
  }
  return names.length > 0 ? names : null
}
