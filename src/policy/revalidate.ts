/**
 * policy/revalidate: conditional requests in both directions. Pure.
 * - to the origin: validators of a stored entry (RFC 9111 §4.3.1);
 * - from the origin: a 304 merged into the stored entry's headers (RFC 9111 §4.3.4);
 * - from a client: If-None-Match / If-Modified-Since answered from cache (RFC 9110 §13.1).
 */
import type { StoredEntry } from '../core/entry.js'
import { firstValue, isHopByHop, removeOwnVia, type HeaderRecord, type HeaderValue } from '../core/headers.js'

export function makeConditionalHeaders (entry: StoredEntry): Record<string, string> | null {
  if (entry.etag !== undefined) {
    return entry.lastModified !== undefined
      ? { 'if-none-match': entry.etag, 'if-modified-since': entry.lastModified }
      : { 'if-none-match': entry.etag }
  }
  return entry.lastModified !== undefined ? { 'if-modified-since': entry.lastModified } : null
}

/** RFC 9111 §3.2: fields a 304 must not overwrite in the stored response. */
const KEEP_STORED = new Set(['content-length', 'content-encoding', 'content-range', 'transfer-encoding'])

/**
 * The stored response's headers updated with a 304's, as a record for policy/storable. The stored Via loses the entry
 * corral appended when it stored the response (the last one), so storing the merge again appends it once, not once
 * per revalidation; the origin's own Via is kept.
 */
export function mergeNotModified (entry: StoredEntry, notModified: HeaderRecord): HeaderRecord {
  const merged: Record<string, string | string[]> = {}
  const flat = entry.headers
  let lastVia = -1
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === 'via') lastVia = i
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string
    const value = i === lastVia ? removeOwnVia(flat[i + 1] as string) : flat[i + 1] as string
    if (value === undefined) continue
    const prior = merged[name]
    merged[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value]
  }
  for (const name in notModified) {
    const value = notModified[name]
    if (value === undefined || isHopByHop(name) || KEEP_STORED.has(name)) continue
    merged[name] = value
  }
  return merged
}

/** RFC 9110 §13.1.2 weak comparison: W/"x" matches "x". */
function etagMatches (ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch.trim() === '*') return true
  const bare = etag.startsWith('W/') ? etag.slice(2) : etag
  for (const candidate of ifNoneMatch.split(',')) {
    const c = candidate.trim()
    if ((c.startsWith('W/') ? c.slice(2) : c) === bare) return true
  }
  return false
}

/** Should a client's conditional GET/HEAD get 304 from this entry? (RFC 9110 §13.2.2 precedence.) */
export function isNotModifiedForClient (entry: StoredEntry, ifNoneMatch: HeaderValue, ifModifiedSince: HeaderValue): boolean {
  if (entry.status !== 200) return false
  if (ifNoneMatch !== undefined) {
    const inm = Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : ifNoneMatch
    return entry.etag !== undefined && etagMatches(inm, entry.etag)
  }
  if (ifModifiedSince !== undefined && entry.lastModified !== undefined) {
    const since = Date.parse(firstValue(ifModifiedSince) ?? '')
    const modified = Date.parse(entry.lastModified)
    return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since
  }
  return false
}
