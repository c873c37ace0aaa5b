/**
 * policy/revalidate: conditional requests towards the origin and what their answers change. Pure.
 * - to the origin: validators of a stored entry (RFC 9111 §4.3.1);
 * - from the origin: a 304 merged into the stored entry's headers (§4.3.4), a 200 to HEAD freshening it (§4.3.5).
 * Client conditionals answered from cache live in policy/conditional.ts.
 */
import type { StoredEntry } from '../core/entry.js'
import { isHopByHop, removeOwnVia, type HeaderRecord, type HeaderValue } from '../core/headers.js'

export function makeConditionalHeaders (entry: StoredEntry): Record<string, string> | null {
  if (entry.etag !== undefined) {
    return entry.lastModified !== undefined
      ? { 'if-none-match': entry.etag, 'if-modified-since': entry.lastModified }
      : { 'if-none-match': entry.etag }
  }
  return entry.lastModified !== undefined ? { 'if-modified-since': entry.lastModified } : null
}

/**
 * RFC 9111 §3.2: fields that describe the stored bytes, which an update (304 or HEAD) must not overwrite: the
 * stored body is kept, so its length, coding, range, digest and validator stay those of the body. Content-Type and
 * every other field are updated. Hop-by-hop fields are never stored at all.
 */
const KEEP_STORED = new Set([
  'content-length', 'content-encoding', 'content-range', 'content-md5', 'etag', 'transfer-encoding',
  'content-digest', 'repr-digest', 'digest'
])

/**
 * The stored response's headers updated with a 304's (or a HEAD 200's), as a record for policy/storable. The
 * stored Via loses the entry corral appended when it stored the response (the last one), so storing the merge again
 * appends it once, not once per revalidation; the origin's own Via is kept. Fields the update's Connection lists
 * are hop-by-hop for it (RFC 9110 §7.6.1) and are not merged.
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
  const listed = connectionNames(notModified.connection)
  for (const name in notModified) {
    const value = notModified[name]
    if (value === undefined || isHopByHop(name) || KEEP_STORED.has(name) || listed.has(name)) continue
    merged[name] = value
  }
  return merged
}

function connectionNames (value: HeaderValue): Set<string> {
  const out = new Set<string>()
  if (value === undefined) return out
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) out.add(part.trim().toLowerCase())
  return out
}

/**
 * RFC 9111 §4.3.5: what a 200 answer to a HEAD (corral's own, or a client's written through) does to the stored
 * GET response it could have selected.
 * - update: the validators it carries (ETag, Last-Modified) match the stored ones and its Content-Length, if any,
 *   is the stored body's: `headers` is the merge (§3.2) to decide storability and deadlines from again;
 * - stale: anything else: the stored response must not be served again without the origin.
 */
export type HeadUpdate =
  | { readonly kind: 'update', readonly headers: HeaderRecord }
  | { readonly kind: 'stale' }

export function decideHeadUpdate (entry: StoredEntry, status: number, head: HeaderRecord): HeadUpdate {
  if (status !== 200) return STALE
  const etag = single(head.etag)
  if (etag !== undefined && etag !== entry.etag) return STALE
  const lastModified = single(head['last-modified'])
  if (lastModified !== undefined && lastModified !== entry.lastModified) return STALE
  const length = single(head['content-length'])
  if (length !== undefined && length !== String(entry.body.length)) return STALE
  return { kind: 'update', headers: mergeNotModified(entry, head) }
}

const STALE: HeadUpdate = { kind: 'stale' }

function single (value: HeaderValue): string | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? value.join(', ') : value
}
