/**
 * steps/range-read: the lookup road of a Range GET when the store can read part of an entry (store/ranged-tier.ts):
 * an entry in memcached chunks and not in L1 is read only as far as the range needs (its head, the first chunk's
 * metadata once per version, the chunks the range covers), and the part (store/entry-part.ts) answers as a hit.
 * Anything else a lookup can lead to (stale, revalidation, a miss, only-if-cached) needs the whole entry: the lookup
 * runs again, whole, so no part is ever served as more than the range it was read for.  [I/O: the store]
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CacheRecord, StoredEntry, VaryIndex } from '../core/entry.js'
import type { Clock } from '../core/clock.js'
import type { EntryPart } from '../store/entry-part.js'
import { isRangedStore, isStreamingStore, type BytesWanted, type PickBytes } from '../store/ranged-tier.js'
import type { CacheStore, MaybePromise } from '../store/types.js'
import { decideRangeBytes } from '../policy/range-bytes.js'
import { decideUsable, ttlSeconds } from '../policy/usable.js'
import { ANSWERS, cacheStatusOf } from '../answer.js'
import { extraHeaders, type Trace } from '../core/trace.js'
import { servePart } from '../deliver-part.js'
import { asksConditionalOrRange } from '../deliver.js'

/**
 * What these steps read and write of the request in flight and of the driver: declared here, as steps/respond.ts
 * does (the Exchange and the Driver satisfy them), which keeps this file off the pipeline's records.
 */
interface RangeExchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly trace: Trace
  readonly target: { readonly primaryKey: string }
  key: string
  vary: VaryIndex | null
  entry: StoredEntry | undefined
}
interface RangeDriver {
  readonly cache: { readonly store: CacheStore }
  readonly deps: { readonly clock: Clock, readonly origin: { readonly timeoutMs: number } }
  readonly settings: { readonly removedBeforeDelivery: ReadonlySet<string> }
}

/** Exchanges whose lookup must read whole (their part could not answer them). */
const READS_WHOLE = new WeakSet<RangeExchange>()

/** The read for a lookup of a request with a Range header: of a GET, only the bytes its answer needs. */
export function getForRange (d: RangeDriver, ex: RangeExchange, key: string): MaybePromise<CacheRecord | undefined> {
  const { store } = d.cache
  if (ex.req.method !== 'GET' || !isRangedStore(store) || READS_WHOLE.has(ex)) return store.get(key)
  const { headers } = ex.req
  const { clock } = d.deps
  return store.getRange(key, (meta, bodyBytes) => decideRangeBytes(headers, meta, bodyBytes, clock.now()))
}

/**
 * The read a lookup of the primary key parks on after an L1 miss (`found`, the store's `get`, already under way). For
 * a plain GET (no Range, no validators) of an entry in memcached chunks it is a part that streams the whole body as
 * its chunks arrive (store/chunk-stream.ts), when fresh: the first byte after the first chunk, not the last. Anything
 * else is `found`, as before: a small entry costs one more promise on this road, none on an L1 hit.
 */
export function streamedOr (d: RangeDriver, ex: RangeExchange, found: Promise<CacheRecord | undefined>): Promise<CacheRecord | undefined> {
  const { store } = d.cache
  if (ex.req.method !== 'GET' || !isStreamingStore(store) || READS_WHOLE.has(ex) || asksConditionalOrRange(ex.req.headers)) return found
  return store.getStreamed(ex.target.primaryKey, pickFor(d.deps.clock)).then(part => part ?? found)
}

/** One pick per clock, made once: fresh entries stream, the others are read whole (a stale answer needs all of it). */
const PICKS = new WeakMap<Clock, PickBytes>()
const STREAM: BytesWanted = { kind: 'stream' }
const WHOLE: BytesWanted = { kind: 'whole' }

function pickFor (clock: Clock): PickBytes {
  let pick = PICKS.get(clock)
  if (pick === undefined) {
    pick = (meta) => decideUsable(meta, clock.now()) === 'fresh' ? STREAM : WHOLE
    PICKS.set(clock, pick)
  }
  return pick
}

/** A part the lookup's verdict will not serve as a hit (it went stale meanwhile): the lookup again, whole. */
export function readWhole (ex: RangeExchange): 'lookup' {
  READS_WHOLE.add(ex)
  ex.entry = undefined
  ex.vary = null
  ex.key = ex.target.primaryKey
  ex.trace.body = null
  return 'lookup'
}

/** A fresh part answers its range (Cache-Status `detail=chunks`, as an entry read whole from chunks says). */
export function hitPart (d: RangeDriver, ex: RangeExchange, entry: StoredEntry, part: EntryPart, now: number): 'lookup' | 'done' {
  const { xCache } = ANSWERS.hit
  const { trace } = ex
  const sent = servePart(
    ex.res, ex.req.headers, entry, part, now, xCache, cacheStatusOf('hit', ttlSeconds(entry, now), 'chunks'), extraHeaders(trace),
    d.deps.origin.timeoutMs, d.settings.removedBeforeDelivery, trace
  )
  if (sent === undefined) return readWhole(ex)
  trace.xCache = xCache
  trace.bytes = sent
  return 'done'
}
