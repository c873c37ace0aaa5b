/**
 * policy/conditional: a client's conditional GET/HEAD answered from a stored response (RFC 9110 §13.1-§13.2,
 * RFC 9111 §4.3.2), and the request directives corral honours (only-if-cached). Pure.
 *
 * Other request directives (no-cache, max-age, min-fresh, max-stale, no-store) stay ignored on purpose: one client
 * must not be able to empty or bypass a shared cache in front of an origin under load (README).
 */
import type { StoredEntry } from '../core/entry.js'
import type { HeaderRecord, HeaderValue } from '../core/headers.js'
import { parseCacheControl } from './cache-control.js'
import { parseHttpDate } from './http-date.js'

/**
 * The entity-tags of an If-None-Match (RFC 9110 §13.1.2), opaque parts only (W/ dropped: weak comparison), or '*'.
 * Quoted tags are read as quoted-strings, so `"a,b"` is one tag. An unquoted member (invalid, but sent by some
 * clients) is kept as it is, so it can only match a stored ETag spelled the same way, unquoted.
 */
export function parseEntityTags (value: string): string[] | '*' {
  if (value.trim() === '*') return '*'
  const tags: string[] = []
  let i = 0
  while (i < value.length) {
    while (i < value.length && (value[i] === ',' || value[i] === ' ' || value[i] === '\t')) i++
    if (i >= value.length) break
    if (value.startsWith('W/', i)) i += 2
    if (value[i] === '"') {
      const close = value.indexOf('"', i + 1)
      if (close === -1) break
      tags.push(value.slice(i, close + 1))
      i = close + 1
    } else {
      let end = value.indexOf(',', i)
      if (end === -1) end = value.length
      const bare = value.slice(i, end).trim()
      if (bare !== '') tags.push(bare)
      i = end
    }
  }
  return tags
}

/** RFC 9110 §8.8.3.2 weak comparison: the opaque tags are equal, either or both may be weak. */
export function weakMatch (tags: string[] | '*', etag: string): boolean {
  if (tags === '*') return true
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag
  return tags.includes(opaque)
}

/**
 * Should a client's conditional GET/HEAD get 304 from this entry? RFC 9110 §13.2.2: If-None-Match, when present,
 * decides alone; else If-Modified-Since, against Last-Modified or, when the stored response has none, its Date, or
 * else the time it was stored (RFC 9111 §4.3.2). An If-Modified-Since that is not an HTTP-date is ignored.
 */
export function isNotModifiedForClient (entry: StoredEntry, ifNoneMatch: HeaderValue, ifModifiedSince: HeaderValue): boolean {
  if (entry.status !== 200) return false
  if (ifNoneMatch !== undefined) {
    const inm = Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : ifNoneMatch
    return entry.etag !== undefined && weakMatch(parseEntityTags(inm), entry.etag)
  }
  if (ifModifiedSince === undefined || Array.isArray(ifModifiedSince)) return false
  const since = parseHttpDate(ifModifiedSince, entry.storedAt)
  if (Number.isNaN(since)) return false
  return modifiedAt(entry) <= since
}

/** When the stored representation last changed, as far as the cache can tell (RFC 9111 §4.3.2). */
function modifiedAt (entry: StoredEntry): number {
  if (entry.lastModified !== undefined) {
    const lm = parseHttpDate(entry.lastModified, entry.storedAt)
    if (!Number.isNaN(lm)) return lm
  }
  const flat = entry.headers
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] === 'date') {
      const date = parseHttpDate(flat[i + 1] as string, entry.storedAt)
      if (!Number.isNaN(date)) return date
    }
  }
  return entry.storedAt
}

/**
 * RFC 9111 §5.2.1.7: the client wants a stored response or nothing (504 when none is usable). Honoured because it
 * can only spare the origin. Read only by requests that carry Cache-Control (off the plain hit path).
 */
export function isOnlyIfCached (headers: HeaderRecord): boolean {
  const cc = headers['cache-control']
  return cc !== undefined && parseCacheControl(cc).has('only-if-cached')
}
