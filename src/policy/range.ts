/**
 * policy/range: a Range request (RFC 9110 §14) answered from a stored complete response. Pure.
 *
 * corral's choices where the RFC leaves one: a single satisfiable range (after overlapping and adjacent ranges are
 * merged) gets 206; several disjoint ranges get the whole 200, which §14.2 allows ("a server MAY ignore the Range
 * header field") and which spares corral multipart/byteranges framing; partial responses are never stored (a miss
 * fills the whole object, policy/storable refuses 206).
 */
import type { StoredEntry } from '../core/entry.js'
import type { HeaderValue } from '../core/headers.js'
import { parseHttpDate } from './http-date.js'

/** One byte range as requested: `first-last`, `first-` (last undefined) or a suffix `-length`. */
export type ByteRangeSpec =
  | { readonly kind: 'int', readonly first: number, readonly last: number | undefined }
  | { readonly kind: 'suffix', readonly length: number }

/** More ranges than this in one request are treated as no Range at all (§14.2: protects against range abuse). */
const MAX_RANGES = 64

/** RFC 9110 §14.1.1-§14.2: `bytes=` and its range specs; null when the field is absent, not bytes, or invalid. */
export function parseRange (value: HeaderValue): ByteRangeSpec[] | null {
  if (value === undefined || Array.isArray(value)) return null
  const eq = value.indexOf('=')
  if (eq === -1 || value.slice(0, eq).trim().toLowerCase() !== 'bytes') return null
  const specs: ByteRangeSpec[] = []
  for (const part of value.slice(eq + 1).split(',')) {
    const spec = part.trim()
    if (spec === '') continue
    const m = /^(\d*)-(\d*)$/.exec(spec)
    if (m === null) return null
    const [, a = '', b = ''] = m
    if (a === '') {
      if (b === '') return null
      specs.push({ kind: 'suffix', length: Number(b) })
    } else {
      const first = Number(a)
      const last = b === '' ? undefined : Number(b)
      // §14.1.1: a range whose last is before its first is invalid, and so is the whole field.
      if (last !== undefined && last < first) return null
      specs.push({ kind: 'int', first, last })
    }
  }
  if (specs.length === 0 || specs.length > MAX_RANGES) return null
  return specs
}

/**
 * - whole: send the stored 200 as it is (no Range, or one corral ignores: invalid, several disjoint ranges, an
 *   If-Range that does not match, a method or status Range does not apply to);
 * - partial: 206 with bytes `start`..`end` inclusive and `contentRange` (§14.4);
 * - unsatisfiable: 416 with `contentRange` `bytes *\/L` (§15.5.17).
 */
export type RangeAnswer =
  | { readonly kind: 'whole' }
  | { readonly kind: 'partial', readonly start: number, readonly end: number, readonly contentRange: string }
  | { readonly kind: 'unsatisfiable', readonly contentRange: string }

export interface RangeRequest {
  readonly method: string
  readonly range: HeaderValue
  readonly ifRange: HeaderValue
}

export interface StoredRepresentation {
  readonly status: number
  readonly length: number
  readonly etag: string | undefined
  readonly lastModified: string | undefined
  /** The stored Date field, for If-Range's strong-date rule. */
  readonly date: string | undefined
}

/** `now` places an If-Range date's two-digit year (RFC 850 form). */
export function decideRange (req: RangeRequest, stored: StoredRepresentation, now: number): RangeAnswer {
  // §14.2: Range is defined for GET only; §15.3.7: a 206 is built from a complete 200.
  if (req.method !== 'GET' || stored.status !== 200 || req.range === undefined) return WHOLE
  const specs = parseRange(req.range)
  if (specs === null) return WHOLE
  if (req.ifRange !== undefined && !ifRangeMatches(req.ifRange, stored, now)) return WHOLE
  const length = stored.length
  const ranges: Array<[number, number]> = []
  for (const spec of specs) {
    if (spec.kind === 'suffix') {
      // §14.1.1: a suffix longer than the representation means all of it; a zero-length one is unsatisfiable.
      if (spec.length > 0 && length > 0) ranges.push([Math.max(0, length - spec.length), length - 1])
    } else if (spec.first < length) {
      ranges.push([spec.first, Math.min(spec.last ?? length - 1, length - 1)])
    }
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable', contentRange: `bytes */${length}` }
  ranges.sort((x, y) => x[0] - y[0])
  const start = (ranges[0] as [number, number])[0]
  let end = (ranges[0] as [number, number])[1]
  for (let i = 1; i < ranges.length; i++) {
    const [s, e] = ranges[i] as [number, number]
    if (s > end + 1) return WHOLE
    end = Math.max(end, e)
  }
  return { kind: 'partial', start, end, contentRange: `bytes ${start}-${end}/${length}` }
}

const WHOLE: RangeAnswer = { kind: 'whole' }

/**
 * RFC 9110 §13.1.5: If-Range holds an entity-tag, compared strongly (a weak tag never matches), or an HTTP-date,
 * which matches only a Last-Modified equal to it that is itself strong: at least a second before the stored Date
 * (§8.8.2.2). No match: the whole representation is sent.
 */
function ifRangeMatches (ifRange: HeaderValue, stored: StoredRepresentation, now: number): boolean {
  if (ifRange === undefined || Array.isArray(ifRange)) return false
  const value = ifRange.trim()
  if (value.startsWith('"') || value.startsWith('W/')) {
    return !value.startsWith('W/') && stored.etag !== undefined && !stored.etag.startsWith('W/') && value === stored.etag
  }
  if (stored.lastModified === undefined) return false
  const since = parseHttpDate(value, now)
  const modified = parseHttpDate(stored.lastModified, now)
  if (Number.isNaN(since) || Number.isNaN(modified) || since !== modified) return false
  const date = stored.date === undefined ? NaN : parseHttpDate(stored.date, now)
  return !Number.isNaN(date) && date - modified >= 1000
}

/**
 * A Range request whose answer will not come from the cache (a URL remembered as hit-for-pass, or a fill whose answer
 * turned out not storable: uncacheable, over cache.maxObjectBytes) goes to the origin with its Range (§14.2): a video
 * player's seek then costs the bytes it asked for, not the whole file each time. Only GET (Range means nothing
 * else) and only for an answer that is not an origin error (those are shared with the waiters as failures).
 */
export function isRangeForOrigin (method: string, range: HeaderValue, answerStatus: number): boolean {
  return method === 'GET' && range !== undefined && answerStatus < 500
}

/** A stored entry as decideRange reads it, with its body's length given (the body itself may not be at hand). */
export function representationOfMeta (entry: StoredEntry, length: number): StoredRepresentation {
  let date: string | undefined
  for (let i = 0; i < entry.headers.length; i += 2) if (entry.headers[i] === 'date') date = entry.headers[i + 1]
  return { status: entry.status, length, etag: entry.etag, lastModified: entry.lastModified, date }
}
