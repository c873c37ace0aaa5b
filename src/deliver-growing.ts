/**
 * deliver-growing: an answer written from a fill's body while it arrives (coalesce/growing-body.ts), for the fill's
 * leader and every waiter: the same choices as a stored entry (deliver.ts serveEntry: 304 for matching validators,
 * 206/416 for a Range, HEAD without a body), the bytes as they come. A Range is answered as soon as its bytes have
 * arrived, not when the whole object has.  [I/O]
 */
import type { Exchange } from './exchange.js'
import type { GrowingFill } from './coalesce/growing-fill.js'
import type { XCache } from './core/metrics.js'
import { extraHeaders } from './core/trace.js'
import { deliverable, deliverNotModified } from './deliver.js'
import { isNotModifiedForClient } from './policy/revalidate.js'
import { decideRange, type StoredRepresentation } from './policy/range.js'
import { ageSeconds } from './policy/usable.js'

/** Never rejects: a client that fails or stalls is destroyed by GrowingBody.pipeTo. */
export async function serveGrowing (
  ex: Exchange, growing: GrowingFill, now: number, xCache: XCache, cacheStatus: string, stallMs: number, strip: ReadonlySet<string>
): Promise<void> {
  const { trace, req, res } = ex
  const { head, body } = growing
  trace.xCache = xCache
  trace.bytes = 0
  trace.body = 'streamed'
  const extra = extraHeaders(trace)
  const { headers } = req
  if ((headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) &&
    isNotModifiedForClient(head, headers['if-none-match'], headers['if-modified-since'])) {
    return deliverNotModified(res, head, now, xCache, cacheStatus, extra)
  }
  let start = 0
  let end = body.length - 1
  let status = head.status
  let out: string[]
  const range = headers.range === undefined
    ? null
    : decideRange({ method: req.method ?? 'GET', range: headers.range, ifRange: headers['if-range'] }, representationOf(growing), now)
  if (range !== null && range.kind !== 'whole') {
    out = []
    const flat = head.headers
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i] as string
      if (name !== 'content-length' && !strip.has(name)) out.push(name, flat[i + 1] as string)
    }
    if (range.kind === 'unsatisfiable') {
      out.push('content-range', range.contentRange, 'content-length', '0')
      start = 0
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
  if (ex.isHead || end < start) {
    res.end()
    return
  }
  await body.pipeTo(res, start, end, stallMs, trace)
}

function representationOf (growing: GrowingFill): StoredRepresentation {
  const { head, body } = growing
  let date: string | undefined
  for (let i = 0; i < head.headers.length; i += 2) if (head.headers[i] === 'date') date = head.headers[i + 1]
  return { status: head.status, length: body.length, etag: head.etag, lastModified: head.lastModified, date }
}
