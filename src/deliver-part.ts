/**
 * deliver-part: a Range answered from an entry read in part (store/entry-part.ts): the same choices as a whole stored
 * entry (deliver.ts serveEntry: 304 for matching validators first, https://www.rfc-editor.org/rfc/rfc9110#section-13.2.2;
 * then 206 or 416), written from the bytes the part holds, and for a long range from the chunks read while it is sent.
 * [I/O]
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { StoredEntry } from './core/entry.js'
import type { EntryPart } from './store/entry-part.js'
import type { XCache } from './core/trace.js'
import type { PartRest } from './store/entry-part.js'
import { deliverable, deliverNotModified, deliverRange, limitSendStall, rangeHeaders } from './deliver.js'
import { ageSeconds } from './policy/usable.js'
import { drained } from './core/drained.js'
import { ChunkTornError } from './core/errors.js'
import { isNotModifiedForClient } from './policy/conditional.js'
import { decideRange, representationOfMeta } from './policy/range.js'

/**
 * The body bytes sent, or undefined when the part cannot answer this request (nothing written): the request then
 * needs the whole entry. The part was read for the answer these headers decide, so that is a safety net, not a road.
 */
export function servePart (
  res: ServerResponse, headers: IncomingHttpHeaders, entry: StoredEntry, part: EntryPart, now: number, xCache: XCache, cacheStatus: string,
  extra: readonly string[] | null, stallMs: number, strip: ReadonlySet<string>, trace: { error: string | null }
): number | undefined {
  const inm = headers['if-none-match']
  const ims = headers['if-modified-since']
  if ((inm !== undefined || ims !== undefined) && isNotModifiedForClient(entry, inm, ims)) {
    deliverNotModified(res, entry, now, xCache, cacheStatus, extra)
    return 0
  }
  const range = decideRange({ method: 'GET', range: headers.range, ifRange: headers['if-range'] }, representationOfMeta(entry, part.totalBytes), now)
  const { rest } = part
  if (range.kind === 'whole') {
    // A full GET of a chunked entry (store/chunk-stream.ts): the 200, its body as the chunks arrive.
    if (!part.whole || rest === null) return undefined
    const head = deliverable(entry.headers, strip).concat('age', String(ageSeconds(entry, now)), 'x-cache', xCache, 'cache-status', cacheStatus)
    if (extra !== null) for (const h of extra) head.push(h)
    res.writeHead(entry.status, head)
    sendRest(res, EMPTY, rest, stallMs, trace).catch((err: unknown) => { res.destroy(err as Error) })
    return part.totalBytes
  }
  if (part.whole) return undefined
  if (rest !== null) {
    // Read for exactly this range: its first bytes are here, the rest comes as the client takes it.
    if (range.kind !== 'partial' || range.start !== part.start) return undefined
    res.writeHead(206, rangeHeaders(entry, now, xCache, cacheStatus, range, extra, strip, range.end - range.start + 1))
    sendRest(res, part.bytes, rest, stallMs, trace).catch((err: unknown) => { res.destroy(err as Error) })
    return range.end - range.start + 1
  }
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

/**
 * `first`, then the rest chunk by chunk, each after the client took the one before (backpressure; a client that reads
 * nothing for `stallMs` is cut off, as a streamed fill's is). A chunk missing by now cannot become a miss (the 206 is
 * under way): the connection is destroyed before the declared length, never ended as if whole.
 */
async function sendRest (res: ServerResponse, first: Buffer, rest: PartRest, stallMs: number, trace: { error: string | null }): Promise<void> {
  try {
    if (first.length > 0 && !res.write(first) && !await drained(res, stallMs)) return
    for (;;) {
      if (res.destroyed) return
      const next = await rest.next()
      if (next === undefined) break
      if (typeof next === 'string') {
        const error = new ChunkTornError(next)
        // The access line is written when the connection closes: it says why.
        trace.error = error.code
        res.destroy(error)
        return
      }
      if (!res.write(next) && !await drained(res, stallMs)) return
    }
    res.end()
  } finally {
    rest.close()
  }
}

const EMPTY = Buffer.alloc(0)
