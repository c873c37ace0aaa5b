/**
 * deliver-growing: an answer written from a fill's body while it arrives (origin/growing-body.ts, shared-stream.ts),
 * for the fill's leader and every waiter: the same choices as a stored entry (deliver.ts serveEntry: 304 for matching
 * validators, 206/416 for a Range, HEAD without a body), the bytes as they come. A Range is answered as soon as its
 * bytes have arrived, not when the whole object has.  [I/O]
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { GrowingFill } from './origin/growing-fill.js'
import type { XCache } from './core/trace.js'
import { deliverable, deliverNotModified } from './deliver.js'
import { isNotModifiedForClient } from './policy/conditional.js'
import { decideRange, type StoredRepresentation } from './policy/range.js'
import { ageSeconds } from './policy/usable.js'
import { pickCodedStream } from './deliver-growing-coded.js'

/** Never rejects: a client that fails or stalls is destroyed by the body's pipeTo; `tally.bytes` counts what was sent. */
export async function serveGrowing (
  res: ServerResponse, headers: IncomingHttpHeaders, method: string, isHead: boolean, growing: GrowingFill, now: number,
  xCache: XCache, cacheStatus: string, extra: readonly string[] | null, stallMs: number, strip: ReadonlySet<string>,
  tally: { bytes: number, encoding: string | null }
): Promise<void> {
  // Unsized (no Content-Length yet): to its end, in chunked transfer encoding; a Range on it gets the whole 200, as
  // RFC 9110 §14.2 allows (https://www.rfc-editor.org/rfc/rfc9110#section-14.2): its length is not known to answer one.
  const identityRange = headers.range === undefined || growing.body.length < 0
    ? null
    : decideRange({ method, range: headers.range, ifRange: headers['if-range'] }, representationOf(growing.head, growing.body), now)
  // A Range that applies is answered on identity bytes; otherwise the client's coding, when the fill makes it on the fly.
  const coded = identityRange !== null && identityRange.kind !== 'whole' ? null : pickCodedStream(growing.coded, headers['accept-encoding'])
  const { head, body } = coded?.stream ?? growing
  const range = coded === null ? identityRange : null
  if (coded !== null) tally.encoding = coded.coding
  if ((headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) &&
    isNotModifiedForClient(head, headers['if-none-match'], headers['if-modified-since'])) {
    deliverNotModified(res, head, now, xCache, cacheStatus, extra)
    return
  }
  let start = 0
  let end = body.length < 0 ? Infinity : body.length - 1
  let status = head.status
  let out: string[]
  if (range !== null && range.kind !== 'whole') {
    out = []
    const flat = head.headers
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i] as string
      if (name !== 'content-length' && !strip.has(name)) out.push(name, flat[i + 1] as string)
    }
    if (range.kind === 'unsatisfiable') {
      out.push('content-range', range.contentRange, 'content-length', '0')
      end = -1
      status = 416
    } else {
      out.push('content-range', range.contentRange, 'content-length', String(range.end - range.start + 1))
      start = range.start
      end = range.end
      status = 206
    }
  } else {
    out = deliverable(head.headers, strip).slice()
  }
  out.push('age', String(ageSeconds(head, now)), 'x-cache', xCache, 'cache-status', cacheStatus)
  if (extra !== null) for (const h of extra) out.push(h)
  res.writeHead(status, out)
  if (isHead || end < start) {
    res.end()
    return
  }
  await body.pipeTo(res, start, end, stallMs, tally)
}

function representationOf (head: GrowingFill['head'], body: GrowingFill['body']): StoredRepresentation {
  let date: string | undefined
  for (let i = 0; i < head.headers.length; i += 2) if (head.headers[i] === 'date') date = head.headers[i + 1]
  return { status: head.status, length: body.length, etag: head.etag, lastModified: head.lastModified, date }
}
