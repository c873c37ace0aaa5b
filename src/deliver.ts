/**
 * deliver: what goes on the wire to the client. Stored headers are ready to write; corral adds Age (RFC 9111 §5.1),
 * X-Cache and Cache-Status (RFC 9211). Client conditionals get 304; HEAD gets headers only.  [I/O; header build pure]
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { CodedBody, StoredEntry } from './core/entry.js'
import { isNotModifiedForClient } from './policy/conditional.js'
import { cacheStatusOf } from './answer.js'
import { decideRange, type RangeAnswer, type StoredRepresentation } from './policy/range.js'
import type { XCache } from './core/trace.js'
import { ageSeconds, ttlSeconds } from './policy/usable.js'
import type { ShedReason } from './core/shed-reason.js'
import type { ShedAnswer } from './core/shed-reason.js'
import { watchUnwritten } from './client-backlog.js'
import { canPrepare, currentDate, fitsHead, prepareHead, usePreparedHead, type PreparedHead } from './deliver-head.js'

/**
 * Does the client ask for a conditional or partial answer? Then a stored entry takes serveEntry's road, not the hit
 * memo: the one place that tells.
 */
export function asksConditionalOrRange (headers: IncomingHttpHeaders): boolean {
  return isConditional(headers) || headers.range !== undefined
}

function isConditional (headers: IncomingHttpHeaders): boolean {
  return headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined
}

/**
 * A stored entry for this request: 304 when the client's validators match (RFC 9110 §13.1, evaluated before Range,
 * §13.2.2), 206 or 416 for a Range the stored bytes can answer (§14), else the entry. Returns the body bytes the
 * access line counts.
 */
export function serveEntry (
  res: ServerResponse, headers: IncomingHttpHeaders, isHead: boolean, entry: StoredEntry, now: number, xCache: XCache, cacheStatus: string,
  extra: readonly string[] | null, stallMs: number, strip: ReadonlySet<string>, rangeable = true
): number {
  const bytes = isHead ? 0 : entry.body.length
  if (isConditional(headers) && isNotModifiedForClient(entry, headers['if-none-match'], headers['if-modified-since'])) {
    deliverNotModified(res, entry, now, xCache, cacheStatus, extra)
    return bytes
  }
  // A coded representation (policy/select-representation.ts) never takes a Range: offsets name identity bytes.
  if (headers.range !== undefined && rangeable) {
    const range = decideRange({ method: isHead ? 'HEAD' : 'GET', range: headers.range, ifRange: headers['if-range'] }, representationOf(entry), now)
    if (range.kind !== 'whole') {
      deliverRange(res, entry, now, xCache, cacheStatus, range, extra, strip)
      limitSendStall(res, stallMs)
      return range.kind === 'partial' ? range.end - range.start + 1 : 0
    }
  }
  deliverEntry(res, entry, now, xCache, cacheStatus, isHead, extra, strip)
  limitSendStall(res, stallMs)
  return bytes
}

/** An entry as policy/range reads it (also policy/select-representation.ts, through steps/respond.ts). */
export function representationOf (entry: StoredEntry): StoredRepresentation {
  let date: string | undefined
  for (let i = 0; i < entry.headers.length; i += 2) if (entry.headers[i] === 'date') date = entry.headers[i + 1]
  return { status: entry.status, length: entry.body.length, etag: entry.etag, lastModified: entry.lastModified, date }
}

/**
 * RFC 9110 §14.4 / §15.3.7: a 206 with the one range asked for (several disjoint ranges get the whole 200:
 * policy/range.ts), or §15.5.17: 416 with `Content-Range: bytes *\/length`. `bytes`: the range's bytes when the entry
 * holds only them (deliver-part.ts).
 */
export function deliverRange (
  res: ServerResponse, entry: StoredEntry, now: number, xCache: XCache, cacheStatus: string,
  range: Exclude<RangeAnswer, { kind: 'whole' }>, extra: readonly string[] | null, strip: ReadonlySet<string>, bytes?: Buffer
): void {
  const body = range.kind !== 'partial' ? EMPTY : bytes ?? entry.body.subarray(range.start, range.end + 1)
  res.writeHead(range.kind === 'partial' ? 206 : 416, rangeHeaders(entry, now, xCache, cacheStatus, range, extra, strip, body.length))
  res.end(body)
}

/** The header list of a 206 or 416 whose body is `contentLength` bytes (deliver-part.ts writes a long one in pieces). */
export function rangeHeaders (
  entry: StoredEntry, now: number, xCache: XCache, cacheStatus: string, range: Exclude<RangeAnswer, { kind: 'whole' }>,
  extra: readonly string[] | null, strip: ReadonlySet<string>, contentLength: number
): string[] {
  const headers: string[] = []
  const flat = entry.headers
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string
    if (name !== 'content-length' && !strip.has(name)) headers.push(name, flat[i + 1] as string)
  }
  headers.push('content-range', range.contentRange, 'content-length', String(contentLength), 'age', String(ageSeconds(entry, now)), 'x-cache', xCache, 'cache-status', cacheStatus)
  if (extra !== null) for (const h of extra) headers.push(h)
  return headers
}

const EMPTY = Buffer.alloc(0)

/** The stored header list without the fields never delivered (Surrogate-Control, …); the same list when none is there. */
export function deliverable (flat: readonly string[], strip: ReadonlySet<string>): readonly string[] {
  let i = 0
  while (i < flat.length && !strip.has(flat[i] as string)) i += 2
  if (i >= flat.length) return flat
  const out: string[] = []
  for (let j = 0; j < flat.length; j += 2) if (!strip.has(flat[j] as string)) out.push(flat[j] as string, flat[j + 1] as string)
  return out
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

/**
 * `withId` is `headers` plus an X-Request-Id whose value each hit sets before node:http reads the list; `prepared` the
 * head node:http built from them in the current second (deliver-head.ts), null until a hit captured one.
 */
interface HitHeaders {
  readonly age: number, readonly ttl: number, readonly headers: string[], readonly withId: string[], prepared: PreparedHead | null
}
/** Keyed by the entry's header list, which entries decoded from the same memcached item share (store/codec.ts). */
const HIT_HEADERS = new WeakMap<readonly string[], HitHeaders>()

/**
 * The last hit's entry, representation, millisecond and header list: a spike repeats one page, thousands of times a
 * second, and the same entry in the same millisecond has the same Age and ttl, so a hit compares three values and
 * does no arithmetic and no WeakMap lookup (bench/hit-instructions.ts: 2,692 instructions per hit before, 2,512
 * after). It holds the last entry until another is hit: one entry, whatever its size.
 */
const last = { entry: null as StoredEntry | null, flat: null as readonly string[] | null, now: 0.5, memo: null as HitHeaders | null }

/**
 * A fresh hit. Age and ttl change once a second, so the header list is built once per entry per second and reused
 * (node:http only reads it): building it was a measurable part of a hit (--cpu-prof, bench section 1). The common
 * case is the last page again in the same millisecond; the rest is out of line, so that this function stays small
 * enough for V8 to inline into the hit step (bench/hit-instructions.ts).
 */
export function deliverHit (
  res: ServerResponse, entry: StoredEntry, now: number, head: boolean, requestId: string | null, strip: ReadonlySet<string>,
  chosen: StoredEntry | CodedBody
): void {
  const memo = last.entry === entry && last.flat === chosen.headers && last.now === now ? last.memo as HitHeaders : hitHeaders(entry, chosen.headers, now, strip)
  writeHitHead(res, entry.status, memo, requestId)
  if (head) res.end()
  else res.end(chosen.body)
}

/** Another entry, representation or millisecond: this header list's memo, made again when its second has passed. */
function hitHeaders (entry: StoredEntry, flat: readonly string[], now: number, strip: ReadonlySet<string>): HitHeaders {
  const age = ageSeconds(entry, now)
  const ttl = ttlSeconds(entry, now)
  // Each representation has its own header list, so each is memoised apart. Entries decoded from one memcached item
  // share theirs: the last list is checked before the WeakMap.
  let memo = last.flat === flat ? last.memo : HIT_HEADERS.get(flat)
  if (memo === undefined || memo === null || memo.age !== age || memo.ttl !== ttl) {
    const headers = deliverable(flat, strip).concat('age', String(age), 'x-cache', 'HIT', 'cache-status', hitCacheStatus(ttl))
    memo = { age, ttl, headers, withId: headers.concat('x-request-id', ''), prepared: null }
    HIT_HEADERS.set(flat, memo)
  }
  last.entry = entry
  last.flat = flat
  last.now = now
  last.memo = memo
  return memo
}

/**
 * The hit's head: the one prepared this second when this response fits it (deliver-head.ts), else writeHead's, which
 * the second's first fit response keeps for the hits after it (a response that could not reuse it does not replace
 * it). Out of deliverHit, so that deliverHit stays small enough to inline into the hit step.
 */
function writeHitHead (res: ServerResponse, status: number, memo: HitHeaders, requestId: string | null): void {
  const prepared = memo.prepared
  if (prepared !== null && prepared.date === currentDate && fitsHead(res, prepared)) {
    usePreparedHead(res, status, prepared, requestId)
    return
  }
  const capture = (prepared === null || prepared.date !== currentDate) && canPrepare(res, status)
  res.writeHead(status, requestId === null ? memo.headers : withRequestId(memo, requestId))
  if (capture) memo.prepared = prepareHead(res, status, memo.headers, requestId)
}

/**
 * The request id is the one per-request header, written into the list's last slot: writeHead reads the list before
 * it returns (node:http builds the head there), so no copy of the list per hit (deliverHit: 0.39 µs of self time per
 * hit before, under 0.07 after, --cpu-prof of the bench:micro loop with the log on).
 */
function withRequestId (memo: HitHeaders, requestId: string): string[] {
  const headers = memo.withId
  headers[headers.length - 1] = requestId
  return headers
}

/**
 * A cached answer the kernel did not take at once (a large page, a client reading slowly or not at all) waits in
 * memory with its socket open. It gets `ms` without progress, as a streamed answer does (pass.ts), and then the socket
 * is closed; node:http sets its own keep-alive timeout again once the response has finished. The common case,
 * everything written at once, costs one read.
 */
export function limitSendStall (res: ServerResponse, ms: number): void {
  // Everything taken by the kernel: nothing to watch. Checked here too, so that this check inlines into the hit step
  // and watchUnwritten is only called when there is something to watch.
  const own = res.socket
  if (own !== null && own.writableLength === 0) return
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

/** Cache-Status of a fresh hit (answer.ts row `hit`), spelled here for the hit memo. */
export function hitCacheStatus (ttl: number): string {
  return cacheStatusOf('hit', ttl, null)
}
