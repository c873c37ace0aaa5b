/**
 * policy/range-bytes: which body bytes a Range GET needs of a stored entry known by its metadata alone (an entry in
 * memcached chunks: store/chunk-ranges.ts reads only those). Pure.
 */
import type { StoredEntry } from '../core/entry.js'
import type { HeaderRecord } from '../core/headers.js'
import { isNotModifiedForClient } from './conditional.js'
import { decideRange, representationOfMeta } from './range.js'
import { decideUsable } from './usable.js'

/**
 * The shape of store/ranged-tier.ts BytesWanted (the layers keep the two apart):
 * - whole: the whole entry: not fresh (revalidating it or answering stale needs all of it), or a Range corral answers
 *   with the 200 (invalid, several disjoint ranges, an If-Range that does not match);
 * - none: no byte: a 304 for matching validators (evaluated before Range:
 *   https://www.rfc-editor.org/rfc/rfc9110#section-13.2.2) or a 416;
 * - slice: the one range, `start`..`end` inclusive, the 206 decideRange gives.
 */
export type RangeBytes =
  | { readonly kind: 'whole' }
  | { readonly kind: 'none' }
  | { readonly kind: 'slice', readonly start: number, readonly end: number }

export function decideRangeBytes (headers: HeaderRecord, meta: StoredEntry, bodyBytes: number, now: number): RangeBytes {
  if (decideUsable(meta, now) !== 'fresh') return WHOLE_BYTES
  const inm = headers['if-none-match']
  const ims = headers['if-modified-since']
  if ((inm !== undefined || ims !== undefined) && isNotModifiedForClient(meta, inm, ims)) return NO_BYTES
  const range = decideRange({ method: 'GET', range: headers.range, ifRange: headers['if-range'] }, representationOfMeta(meta, bodyBytes), now)
  if (range.kind === 'whole') return WHOLE_BYTES
  if (range.kind === 'unsatisfiable') return NO_BYTES
  return { kind: 'slice', start: range.start, end: range.end }
}

const WHOLE_BYTES: RangeBytes = { kind: 'whole' }
const NO_BYTES: RangeBytes = { kind: 'none' }
