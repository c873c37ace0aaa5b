/**
 * deliver: what goes on the wire to the client. Stored headers are ready to write; corral adds Age (RFC 9111 §5.1),
 * X-Cache and Cache-Status (RFC 9211). Client conditionals get 304; HEAD gets headers only.  [I/O; header build pure]
 */
import type { ServerResponse } from 'node:http'
import type { StoredEntry } from './core/entry.js'
import type { Exchange } from './exchange.js'
import type { OriginResponse } from './origin/fetch.js'
import { extraHeaders } from './core/trace.js'
import { isNotModifiedForClient } from './policy/revalidate.js'
import { streamResponse } from './pass.js'
import { decideRange, type RangeAnswer, type StoredRepresentation } from './policy/range.js'
import type { XCache } from './core/metrics.js'
import { ageSeconds, ttlSeconds } from './policy/usable.js'
import type { ShedAnswer, ShedReason } from './shed.js'
import { watchUnwritten } from './client-backlog.js'

/**
 * The hot path: a fresh entry, most often from memory, answered synchronously. A conditional or debug request takes
 * the full road (serveEntry).
 */
export function serveHit (ex: Exchange, entry: StoredEntry, now: number, stallMs: number, strip: ReadonlySet<string>): void {
  const { trace, req } = ex
  const { headers } = req
  if (headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined || headers.range !== undefined || trace.debug) {
    return serveEntry(ex, entry, now, 'HIT', hitCacheStatus(ttlSeconds(entry, now)), stallMs, strip)
  }
  trace.xCache = 'HIT'
  trace.bytes = ex.isHead ? 0 : entry.body.length
  deliverHit(ex.res, entry, now, ex.isHead, trace.requestId, strip)
  limitSendStall(ex.res, stallMs)
}

/**
 * A stored entry for this exchange: 304 when the client's validators match (RFC 9110 §13.1, evaluated before Range,
 * §13.2.2), 206 or 416 for a Range the stored bytes can answer (§14), else the entry.
 */
export function serveEntry (
  ex: Exchange, entry: StoredEntry, now: number, xCache: XCache, cacheStatus: string, stallMs: number, strip: ReadonlySet<string>
): void {
  const { trace, req } = ex
  trace.xCache = xCache
  trace.bytes = ex.isHead ? 0 : entry.body.length
  const extra = extraHeaders(trace)
  const { headers } = req
  if ((headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) &&
    isNotModifiedForClient(entry, headers['if-none-match'], headers['if-modified-since'])) {
    return deliverNotModified(ex.res, entry, now, xCache, cacheStatus, extra)
  }
  if (headers.range !== undefined) {
    const range = decideRange({ method: req.method ?? 'GET', range: headers.range, ifRange: headers['if-range'] }, representationOf(entry), now)
    if (range.kind !== 'whole') {
      trace.bytes = range.kind === 'partial' ? range.end - range.start + 1 : 0
      deliverRange(ex.res, entry, now, xCache, cacheStatus, range, extra, strip)
      return limitSendStall(ex.res, stallMs)
    }
  }
  deliverEntry(ex.res, entry, now, xCache, cacheStatus, ex.isHead, extra, strip)
  limitSendStall(ex.res, stallMs)
}

function representationOf (entry: StoredEntry): StoredRepresentation {
  let date: string | undefined
  for (let i = 0; i < entry.headers.length; i += 2) if (entry.headers[i] === 'date') date = entry.headers[i + 1]
  return { status: entry.status, length: entry.body.length, etag: entry.etag, lastModified: entry.lastModified, date }
}

/**
 * RFC 9110 §14.4 / §15.3.7: a 206 with the one range asked for (several disjoint ranges get the whole 200:
 * policy/range.ts), or §15.5.17: 416 with `Content-Range: bytes *\/length`.
 */
function deliverRange (
  res: ServerResponse, entry: StoredEntry, now: number, xCache: XCache, cacheStatus: string,
  range: Exclude<RangeAnswer, { kind: 'whole' }>, extra: readonly string[] | null, strip: ReadonlySet<string>
): void {
  const headers: string[] = []
  const flat = entry.headers
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string
    if (name !== 'content-length' && !strip.has(name)) headers.push(name, flat[i + 1] as string)
  }
  const body = range.kind === 'partial' ? entry.body.subarray(range.start, range.end + 1) : EMPTY
  headers.push('content-range', range.contentRange, 'content-length', String(body.length), 'age', String(ageSeconds(entry, now)), 'x-cache', xCache, 'cache-status', cacheStatus)
  if (extra !== null) for (const h of extra) headers.push(h)
  res.writeHead(range.kind === 'partial' ? 206 : 416, headers)
  res.end(body)
}

const EMPTY = Buffer.alloc(0)

/** The stored header list without the fields never delivered (Surrogate-Control, …); the same list when none is there. */
function deliverable (flat: readonly string[], strip: ReadonlySet<string>): readonly string[] {
  let i = 0
  while (i < flat.length && !strip.has(flat[i] as string)) i += 2
  if (i >= flat.length) return flat
  const out: string[] = []
  for (let j = 0; j < flat.length; j += 2) if (!strip.has(flat[j] as string)) out.push(flat[j] as string, flat[j + 1] as string)
  return out
}

/** A short answer corral makes itself for this exchange (an error, a 504); the trace records it. */
export function serveText (ex: Exchange, status: number, text: string, xCache: XCache, cacheStatus: string | null): void {
  ex.trace.xCache = xCache
  ex.trace.bytes = deliverText(ex.res, status, text, xCache, cacheStatus, extraHeaders(ex.trace) ?? undefined)
}

/** An origin response relayed to this exchange as it arrives (pass.ts streams it). */
export async function relayResponse (
  ex: Exchange, response: OriginResponse, head: readonly Buffer[] | null, xCache: XCache, cacheStatus: string, strip: ReadonlySet<string>
): Promise<void> {
  const { trace } = ex
  trace.xCache = xCache
  trace.bytes = 0
  const extra = extraHeaders(trace)
  await streamResponse(ex.res, response, head, xCache, cacheStatus, ex.isHead, extra, strip, trace)
}

/** Writes a cached entry. One array concat per hit; no header parsing. */
export function deliverEntry (
  res: ServerResponse, entry: StoredEntry, now: number, xCache: XCache, cacheStatus: string, head: boolean, extra: readonly string[] | null,
  strip: ReadonlySet<string>
): void {
  const headers = deliverable(entry.headers, strip).concat('age', String(ageSeconds(entry, now)), 'x-cache', xCache, 'cache-status', cacheStatus)
  if (extra !== null) for (const h of extra) headers.push(h)
  res.writeHead(entry.status, headers)
  if (head) res.end()
  else res.end(entry.body)
}

interface HitHeaders { readonly age: number, readonly ttl: number, readonly headers: string[] }
/** Keyed by the entry's header list, which entries decoded from the same memcached item share (store/codec.ts). */
const HIT_HEADERS = new WeakMap<readonly string[], HitHeaders>()
/** The last entry's, checked first: a spike repeats one page, and a WeakMap lookup costs more than a comparison. */
let lastHeaders: readonly string[] | null = null
let lastMemo: HitHeaders | undefined

/**
 * A fresh hit. Age and ttl change once a second, so the header list is built once per entry per second and reused
 * (node:http only reads it): building it was a measurable part of a hit (--cpu-prof, bench section 1).
 */
export function deliverHit (res: ServerResponse, entry: StoredEntry, now: number, head: boolean, requestId: string | null, strip: ReadonlySet<string>): void {
  const age = ageSeconds(entry, now)
  const ttl = ttlSeconds(entry, now)
  let memo = lastHeaders === entry.headers ? lastMemo : HIT_HEADERS.get(entry.headers)
  if (memo === undefined || memo.age !== age || memo.ttl !== ttl) {
    memo = { age, ttl, headers: deliverable(entry.headers, strip).concat('age', String(age), 'x-cache', 'HIT', 'cache-status', hitCacheStatus(ttl)) }
    HIT_HEADERS.set(entry.headers, memo)
  }
  lastHeaders = entry.headers
  lastMemo = memo
  // The request id is the one per-request header: one copy of the list, and only while ids are on.
  res.writeHead(entry.status, requestId === null ? memo.headers : memo.headers.concat('x-request-id', requestId))
  if (head) res.end()
  else res.end(entry.body)
}

/**
 * A cached answer the kernel did not take at once (a large page, a client reading slowly or not at all) waits in
 * memory with its socket open. It gets `ms` without progress, as a streamed answer does (pass.ts), and then the socket
 * is closed; node:http sets its own keep-alive timeout again once the response has finished. The common case,
 * everything written at once, costs one read.
 */
export function limitSendStall (res: ServerResponse, ms: number): void {
  // The connection's unwritten bytes get the deadline, pipelined answers behind this one included (client-backlog.ts).
  watchUnwritten(res, ms)
}

/** RFC 9110 §15.4.5: a 304 carries the fields a 200 would have had that describe the representation's cache life. */
const NOT_MODIFIED_FIELDS = new Set(['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified', 'via'])

export function deliverNotModified (
  res: ServerResponse, entry: StoredEntry, now: number, xCache: XCache, cacheStatus: string, extra: readonly string[] | null
): void {
  const headers: string[] = []
  const flat = entry.headers
  for (let i = 0; i < flat.length; i += 2) {
    if (NOT_MODIFIED_FIELDS.has(flat[i] as string)) headers.push(flat[i] as string, flat[i + 1] as string)
  }
  headers.push('age', String(ageSeconds(entry, now)), 'x-cache', xCache, 'cache-status', cacheStatus)
  if (extra !== null) for (const h of extra) headers.push(h)
  res.writeHead(304, headers)
  res.end()
}

/** A short text answer corral makes itself (errors, health, shed); returns the body bytes sent (the access line's). */
export function deliverText (res: ServerResponse, status: number, body: string, xCache: XCache | null, cacheStatus: string | null, extra: readonly string[] = []): number {
  if (res.headersSent) {
    res.destroy()
    return 0
  }
  const headers = ['content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), 'cache-control', 'no-store']
  if (xCache !== null) headers.push('x-cache', xCache)
  if (cacheStatus !== null) headers.push('cache-status', cacheStatus)
  for (const h of extra) headers.push(h)
  res.writeHead(status, headers)
  const head = res.req.method === 'HEAD'
  res.end(head ? undefined : body)
  return head ? 0 : Buffer.byteLength(body)
}

/** A shed answer: the route's ready-made status, headers (X-Cache: SHED among them) and body; returns the body bytes sent. */
export function deliverShed (res: ServerResponse, answer: ShedAnswer, reason: ShedReason, head: boolean, extra: readonly string[] | null): number {
  const headers = answer.headers.concat('cache-status', SHED_STATUS[reason])
  if (extra !== null) for (const h of extra) headers.push(h)
  res.writeHead(answer.status, headers)
  res.end(head ? undefined : answer.body)
  return head ? 0 : answer.body.length
}

const SHED_STATUS: { readonly [R in ShedReason]: string } = {
  'route-off': 'corral; detail=shed-route-off',
  'cache-only': 'corral; detail=shed-cache-only',
  'shed-percent': 'corral; detail=shed-percent',
  'origin-saturated': 'corral; detail=shed-origin-saturated'
}

/** Cache-Status values (RFC 9211 §2), made once. */
export const CACHE_STATUS = {
  miss: 'corral; fwd=uri-miss',
  missStored: 'corral; fwd=uri-miss; stored',
  collapsed: 'corral; hit; detail=collapsed',
  revalidated: 'corral; fwd=stale; fwd-status=304; stored',
  refetched: 'corral; fwd=stale; stored',
  bypass: 'corral; fwd=bypass',
  bypassStored: 'corral; fwd=bypass; stored',
  hitForPass: 'corral; fwd=bypass; detail=hit-for-pass',
  method: 'corral; fwd=method',
  error: 'corral; fwd=uri-miss; detail=origin-error',
  onlyIfCached: 'corral; fwd=miss; detail=only-if-cached'
} as const

export function hitCacheStatus (ttl: number): string {
  return `corral; hit; ttl=${ttl}`
}

export function staleCacheStatus (ttl: number, detail: string): string {
  return `corral; hit; ttl=${ttl}; detail=${detail}`
}
