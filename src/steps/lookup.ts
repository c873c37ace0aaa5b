/**
 * steps/lookup: the cache's road through the step table: recv picks the road, lookup and variant read the store,
 * decide gives the one lookup verdict, hit and stale answer from the entry.  [I/O: the store]
 */
import type { CacheRecord, CodedBody, StoredEntry, VaryIndex } from '../core/entry.js'
import type { Clock } from '../core/clock.js'
import { isPromise } from '../store/types.js'
import { wasReadFromChunks } from '../store/chunked-reads.js'
import { makeVariantKey } from '../key.js'
import { decideUsable, type Usability } from '../policy/usable.js'
import { decideLookup, type LookupVerdict } from '../policy/lookup.js'
import { isOnlyIfCached } from '../policy/conditional.js'
import { asksConditionalOrRange, deliverHit, limitSendStall } from '../deliver.js'
import { chooseBody } from '../policy/negotiate.js'
import { makeFillRequest, noAnswer, originRoad, type Driver, type Exchange, type Step } from '../exchange.js'
import { serve, text } from './respond.js'
import { isPassedForCookie } from '../core/cookies.js'
import { partOf } from '../store/entry-part.js'
import { getForRange, hitPart, readWhole, streamedOr } from './range-read.js'

/**
 * RFC 9110 §9.2.1: OPTIONS and TRACE are safe (a CORS preflight must not evict the page); other methods pass and
 * invalidate. A request with credentials gets the origin's answer, never a stored one; RFC 9111 §3.5 lets that answer
 * be stored for others only when it says so. A Range takes the cache's road (deliver.ts answers it from the whole
 * stored response; of an entry in memcached chunks, only the chunks it needs are read: range-read.ts). Roads that never look up are held to cache-only here; the lookup road, at decide.
 */
export function recv (ex: Exchange): Step {
  const { method, headers } = ex.req
  // The plain GET (every hit): decided in a few comparisons, the rest of the rules out of line (small enough for V8
  // to inline into the driver loop, bench/hit-instructions.ts).
  if (method === 'GET' && headers.authorization === undefined && headers.cookie === undefined && headers.range === undefined) return 'lookup'
  return road(ex)
}

function road (ex: Exchange): Step {
  const method = ex.req.method ?? 'GET'
  const { headers } = ex.req
  let road: Step = method !== 'GET' && method !== 'HEAD' ? 'pass' : headers.authorization === undefined ? 'lookup' : ex.isHead ? 'pass' : 'bypass'
  if (road === 'lookup') {
    // cache.requestCookies `pass`: a request with a cookie that counts never meets the cache (core/cookies.ts).
    if (headers.cookie === undefined || !isPassedForCookie(headers.cookie, ex.target.settings.fillHeaders.cookies)) {
      return headers.range === undefined ? road : 'lookup-range'
    }
    road = 'pass'
  }
  originRoad(ex).answer = method !== 'GET' && method !== 'HEAD' ? 'method' : 'bypass'
  return ex.cacheOnly === null ? road : noAnswer(ex, ex.cacheOnly, null)
}

/*
 * The hit path's steps (lookup, decide, hit) keep their rare roads in functions of their own: V8 inlines a call only
 * while the caller's inlined bytecode stays under a budget (920 bytes in node 20), and every step, the store's get and
 * deliverHit inlined into the driver loop is what keeps a hit at the baseline's instruction count (bench/
 * hit-instructions.ts: 3,371 instructions per hit with them called, against 2,625 before the step table).
 */

export function lookup (d: Driver, ex: Exchange): Step {
  const found = d.cache.store.get(ex.target.primaryKey)
  if (isPromise(found)) return parkOnPrimary(d, ex, found)
  ex.trace.tier = 'memory'
  // onPrimary, written out: one inlined call fewer on the hit path.
  if (found?.kind === 'vary') return onVaryIndex(ex, found)
  ex.entry = found
  return 'decide'
}

/**
 * lookup for a request with a Range header (its own step, so that the plain hit's lookup stays small enough to be
 * inlined): of an entry in memcached chunks, only the chunks the range needs are read (range-read.ts).
 */
export function lookupRange (d: Driver, ex: Exchange): Step {
  const found = getForRange(d, ex, ex.target.primaryKey)
  if (isPromise(found)) return parkOnPrimary(d, ex, found)
  ex.trace.tier = 'memory'
  return onPrimary(ex, found)
}

function parkOnPrimary (d: Driver, ex: Exchange, found: Promise<CacheRecord | undefined>): Step {
  ex.trace.tier = 'shared'
  streamedOr(d, ex, found).then((record) => d.resume(ex, onPrimary(ex, record)), (err: unknown) => d.fail(ex, err))
  return 'park'
}

/** The primary key holds an entry, a Vary index (look the variant up: its key is made here, once), or nothing. */
function onPrimary (ex: Exchange, record: CacheRecord | undefined): Step {
  if (record?.kind === 'vary') return onVaryIndex(ex, record)
  ex.entry = record
  return 'decide'
}

function onVaryIndex (ex: Exchange, record: VaryIndex): Step {
  ex.vary = record
  ex.key = makeVariantKey(ex.target.primaryKey, record.epoch, record.varyHeaders, ex.req.headers)
  return 'variant'
}

export function variant (d: Driver, ex: Exchange): Step {
  const found = ex.req.headers.range === undefined ? d.cache.store.get(ex.key) : getForRange(d, ex, ex.key)
  if (!isPromise(found)) return onVariant(ex, found)
  ex.trace.tier = 'shared'
  found.then((record) => d.resume(ex, onVariant(ex, record)), (err: unknown) => d.fail(ex, err))
  return 'park'
}

function onVariant (ex: Exchange, record: CacheRecord | undefined): Step {
  ex.entry = record?.kind === 'entry' ? record : undefined
  return 'decide'
}

/** The one lookup verdict; only-if-cached and cache-only hold back every verdict but a hit. */
export function decide (d: Driver, ex: Exchange): Step {
  const { entry } = ex
  // Found in memory, synchronously: the request's start is now, to the microsecond (one clock read fewer per hit).
  const now = ex.now = entry !== undefined && ex.trace.tier === 'memory' ? startOf(d.deps.clock, ex.trace.start) : noteRead(d, ex)
  const usability: Usability = entry === undefined ? 'expired' : decideUsable(entry, now)
  const verdict = ex.verdict = decideLookup(usability, ex.target.primaryKey, ex.key, d.deps.hitForPass, d.flight)
  return verdict === 'hit' ? 'hit' : notFresh(d, ex, verdict, now)
}

function startOf (clock: Clock, start: number): number {
  return clock.at !== undefined ? clock.at(start) : clock.now()
}

/** Nothing found, or found in memcached: the trace says so (and whether the body came in chunks); the clock now. */
function noteRead (d: Driver, ex: Exchange): number {
  const { trace, entry } = ex
  if (entry === undefined) trace.tier = 'none'
  else if (trace.tier === 'shared' && wasReadFromChunks(entry)) trace.body = 'chunks'
  return d.deps.clock.now()
}

/** Any verdict but a hit: only-if-cached and cache-only first, then the stale or miss step. */
function notFresh (d: Driver, ex: Exchange, verdict: LookupVerdict, now: number): Step {
  const { entry } = ex
  // A part of a chunked entry (range-read.ts) answers only a fresh hit; any other verdict needs the whole body.
  if (ex.trace.body === 'chunks' && partOf(entry as StoredEntry) !== undefined) return readWhole(ex)
  if (ex.req.headers['cache-control'] !== undefined && isOnlyIfCached(ex.req.headers)) {
    // RFC 9111 §5.2.1.7: no origin traffic. A stale copy corral may serve answers (nothing is refreshed); else 504.
    if (verdict === 'stale') return serve(d, ex, entry as StoredEntry, now, 'stale', 'only-if-cached')
    return text(ex, 504, 'not in cache (only-if-cached)\n', 'MISS', 'only-if-cached')
  }
  if (ex.cacheOnly !== null) return noAnswer(ex, ex.cacheOnly, null)
  return verdict === 'stale' ? 'stale' : 'miss'
}

/** The hot path: a fresh entry written from the hit memo; a conditional, Range or debug request takes serve's road. */
export function hit (d: Driver, ex: Exchange): Step {
  const entry = ex.entry as StoredEntry
  const { trace } = ex
  if (trace.body === 'chunks' || trace.debug || asksConditionalOrRange(ex.req.headers)) return serveHit(d, ex, entry)
  trace.xCache = 'HIT'
  // A compressed page: the client's coding, chosen from the ones made at fill time (policy/negotiate.ts).
  const chosen = entry.encoded === undefined ? entry : chooseCoding(ex, entry)
  trace.bytes = ex.isHead ? 0 : chosen.body.length
  deliverHit(ex.res, entry, ex.now, ex.isHead, trace.requestId, d.settings.removedBeforeDelivery, chosen)
  limitSendStall(ex.res, d.deps.origin.timeoutMs)
  return 'done'
}

/** A hit read from memcached chunks, asked conditionally or for a Range, or traced: serve's road. */
function serveHit (d: Driver, ex: Exchange, entry: StoredEntry): Step {
  if (ex.trace.body !== 'chunks') return serve(d, ex, entry, ex.now, 'hit', null)
  const part = partOf(entry)
  return part === undefined ? serve(d, ex, entry, ex.now, 'hit', 'chunks') : hitPart(d, ex, entry, part, ex.now)
}

function chooseCoding (ex: Exchange, entry: StoredEntry): StoredEntry | CodedBody {
  const chosen = chooseBody(entry, ex.req.headers['accept-encoding'])
  if (chosen !== entry) ex.trace.encoding = (chosen as CodedBody).coding
  return chosen
}

/** Stale-while-revalidate or grace: the stale entry answers, and one request per key refreshes it. */
export function stale (d: Driver, ex: Exchange): Step {
  const entry = ex.entry as StoredEntry
  serve(d, ex, entry, ex.now, 'stale', entry.graceWindow === true ? 'grace' : 'stale-while-revalidate')
  d.coalescer.refresh(makeFillRequest(ex))
  return 'done'
}
