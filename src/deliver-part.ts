/**
 * deliver-part: a Range answered from an entry read in part (store/entry-part.ts): the same choices as a whole stored
 * entry (deliver.ts serveEntry: 304 for matching validators first, RFC 9110 §13.2.2; then 206 or 416), written
 * from the bytes the part holds.  [I/O]
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { StoredEntry } from './core/entry.js'
import type { EntryPart } from './store/entry-part.js'
import type { XCache } from './core/trace.js'
import { deliverNotModified, deliverRange, limitSendStall } from './deliver.js'
import { isNotModifiedForClient } from './policy/conditional.js'
import { decideRange, representationOfMeta } from './policy/range.js'

/**
 * The body bytes sent, or undefined when the part cannot answer this request (nothing written): the request then
 * needs the whole entry. The part was read for the answer these headers decide, so that is a safety net, not a road.
 */
export function servePart (
  res: ServerResponse, headers: IncomingHttpHeaders, entry: StoredEntry, part: EntryPart, now: number, xCache: XCache, cacheStatus: string,
  extra: readonly string[] | null, stallMs: number, strip: ReadonlySet<string>
): number | undefined {
  const inm = headers['if-none-match']
  const ims = headers['if-modified-since']
  if ((inm !== undefined || ims !== undefined) && isNotModifiedForClient(entry, inm, ims)) {
    deliverNotModified(res, entry, now, xCache, cacheStatus, extra)
    return 0
  }
  const range = decideRange({ method: 'GET', range: headers.range, ifRange: headers['if-range'] }, representationOfMeta(entry, part.totalBytes), now)
  if (range.kind === 'whole') return undefined
  let bytes = part.bytes
  if (range.kind === 'partial') {
    const from = range.start - part.start
    const to = range.end - part.start + 1
    if (from < 0 || to > part.bytes.length) return undefined
    bytes = part.bytes.subarray(from, to)
  }
  deliverRange(res, entry, now, xCache, cacheStatus, range, extra, strip, bytes)
  limitSendStall(res, stallMs)
  return range.kind === 'partial' ? bytes.length : 0
}
