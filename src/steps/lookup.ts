/**
 * steps/lookup: the cache's road through the step table: recv picks the road, lookup and variant read the store,
 * decide gives the one lookup verdict, hit and stale answer from the entry.  [I/O: the store]
 */
import type { CacheRecord, CodedBody, StoredEntry } from '../core/entry.js'
import { isPromise } from '../store/types.js'
import { wasReadFromChunks } from '../store/chunked-reads.js'
import { makeVariantKey } from '../key.js'
import { decideUsable, type Usability } from '../policy/usable.js'
import { decideLookup } from '../policy/lookup.js'
import { isOnlyIfCached } from '../policy/conditional.js'
import { asksConditionalOrRange, deliverHit, limitSendStall } from '../deliver.js'
import { chooseBody } from '../policy/negotiate.js'
import { makeFillRequest, noAnswer, type Driver, type Exchange, type Step } from '../exchange.js'
import { serve, text } from './respond.js'
import { isPassedForCookie } from '../core/cookies.js'
import { partOf } from '../store/entry-part.js'
import { getForRange, hitPart, readWhole } from './range-read.js'

/**
 * RFC 9110 §9.2.1: OPTIONS and TRACE are safe (a CORS preflight must not evict the page); other methods pass and
 * invalidate. A request with credentials gets the origin's answer, never a stored one; RFC 9111 §3.5 lets that answer
 * be stored for others only when it says so. A Range takes the cache's road (deliver.ts answers it from the whole
 * stored response; of an entry in memcached chunks, only the chunks it needs are read: range-read.ts). Roads that
 * never look up are held to cache-only here; the lookup road, at decide.
 */
export function recv (ex: Exchange): Step {
  const method = ex.req.method ?? 'GET'
  const { headers } = ex.req
  let road: Step = method !== 'GET' && method !== 'HEAD' ? 'pass' : headers.authorization === undefined ? 'lookup' : ex.isHead ? 'pass' : 'bypass'
  if (road === 'lookup') {
    // cache.requestCookies `pass`: a request with a cookie that counts never meets the cache (core/cookies.ts).
    if (headers.cookie === undefined || !isPassedForCookie(headers.cookie, ex.target.settings.fillHeaders.cookies)) return road
    road = 'pass'
  }
  ex.answer = method !== 'GET' && method !== 'HEAD' ? 'method' : 'bypass'
  return ex.cacheOnly === null ? road : noAnswer(ex, ex.cacheOnly, null)
}

export function lookup (d: Driver, ex: Exchange): Step {
  const found = ex.req.headers.range === undefined ? d.cache.store.get(ex.target.primaryKey) : getForRange(d, ex, ex.target.primaryKey)
  if (!isPromise(found)) {
    ex.trace.tier = 'memory'
    return onPrimary(ex, found)
  }
  ex.trace.tier = 'shared'
  found.then((record) => d.resume(ex, onPrimary(ex, record)), (err: unknown) => d.fail(ex, err))
  return 'park'
}

/** The primary key holds an entry, a Vary index (look the variant up: its key is made here, once), or nothing. */
function onPrimary (ex: Exchange, record: CacheRecord | undefined): Step {
  if (record?.kind !== 'vary') {
    ex.entry = record
    return 'decide'
  }
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
  const { trace, entry } = ex
  if (entry === undefined) trace.tier = 'none'
  else if (trace.tier === 'shared' && wasReadFromChunks(entry)) trace.body = 'chunks'
  // Found in memory, synchronously: the request's start is now, to the microsecond (one clock read fewer per hit).
  const { clock } = d.deps
  const now = ex.now = trace.tier === 'memory' && clock.at !== undefined ? clock.at(trace.start) : clock.now()
  const usability: Usability = entry === undefined ? 'expired' : decideUsable(entry, now)
  const verdict = ex.verdict = decideLookup(usability, ex.target.primaryKey, ex.key, d.deps.hitForPass, d.flight)
  if (verdict === 'hit') return 'hit'
  if (trace.body === 'chunks' && partOf(entry as StoredEntry) !== undefined) return readWhole(ex)
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
  const { now } = ex
  if (trace.body === 'chunks') {
    const part = partOf(entry)
    return part === undefined ? serve(d, ex, entry, now, 'hit', 'chunks') : hitPart(d, ex, entry, part, now)
  }
  if (trace.debug || asksConditionalOrRange(ex.req.headers)) return serve(d, ex, entry, now, 'hit', null)
  trace.xCache = 'HIT'
  // A compressed page: the client's coding, chosen from the ones made at fill time (policy/negotiate.ts).
  const chosen = entry.encoded === undefined ? entry : chooseBody(entry, ex.req.headers['accept-encoding'])
  if (chosen !== entry) trace.encoding = (chosen as CodedBody).coding
  trace.bytes = ex.isHead ? 0 : chosen.body.length
  deliverHit(ex.res, entry, now, ex.isHead, trace.requestId, d.settings.removedBeforeDelivery, chosen)
  limitSendStall(ex.res, d.deps.origin.timeoutMs)
  return 'done'
}

/** Stale-while-revalidate or grace: the stale entry answers, and one request per key refreshes it. */
export function stale (d: Driver, ex: Exchange): Step {
  const entry = ex.entry as StoredEntry
  serve(d, ex, entry, ex.now, 'stale', entry.graceWindow === true ? 'grace' : 'stale-while-revalidate')
  d.coalescer.refresh(makeFillRequest(ex))
  return 'done'
}
