/**
 * fill: the fetch → store stage of a miss or a revalidation (Varnish's backend side: it runs apart from any client).
 * Fetches from the origin, decides storability the moment headers arrive (policy/storable), stores what is storable
 * and returns what happened. It answers as soon as waiters can know their fate: a `stream` result comes back with
 * the body unread, so the coalescer releases waiters before an uncacheable body is read; an `entry` result comes back
 * before the store write lands (`written`), so waiters are served while memcached is still being written.
 */
import { randomBytes } from 'node:crypto'
import type { CacheStore } from './store/types.js'
import type { StoredEntry, VaryIndex } from './core/entry.js'
import type { Logger } from './core/log.js'
import { abandon, readBodyUpTo, type OriginClient, type OriginResponse } from './origin/fetch.js'
import { decideStorable, type Deadlines, type NotStorableReason, type StoreOptions } from './policy/storable.js'
import { makeConditionalHeaders, mergeNotModified } from './policy/revalidate.js'
import { withoutFields } from './policy/omit.js'
import { isStaleBetterThanError } from './policy/prefer-stale.js'
import { makeVariantKey, parseVary } from './key.js'
import { appendVia, firstValue, toFlatHeaders, withKeyedHeaders, type FillHeaderRules, type HeaderRecord } from './core/headers.js'
import { OriginBadAnswerError, type CorralError } from './core/errors.js'
import { entryPurgeFields, screenForStore, type EntryPurgeFields, type FillPurge } from './purge/fill-purge.js'

/** One fill, made once by the pipeline from the request; it holds no client connection. */
export interface FillRequest {
  /** The key looked up: the primary key, or the variant key its Vary index named. Flights and leases are per key. */
  readonly key: string
  readonly primaryKey: string
  /** The Vary index known from the lookup, if any (its epoch is kept when the origin still varies the same way). */
  readonly varyIndex: VaryIndex | null
  /** Path and the normalised query the key names: exactly what the origin is asked for. */
  readonly path: string
  /** Origin request headers without validators (core/headers.ts makeOriginHeaders, role 'fill'). */
  readonly originHeaders: Record<string, string | string[]>
  /** The client's request headers as the origin receives them (core/headers.ts dropAnswerShaping): they pick the variant. */
  readonly requestHeaders: HeaderRecord
  /** The expired or stale entry being replaced: validators for a conditional request, a stale-if-error stand-in. */
  readonly stale: StoredEntry | undefined
  /** The request carried Cookie or Authorization: an unstorable answer may be about this requester alone. */
  readonly credentialed: boolean
  /** The origin group to ask (the route's `origin`). */
  readonly group: string
  /** Only on a fill made for one client alone (hit-for-pass, Authorization): that client left (client-gone.ts). */
  readonly signal?: AbortSignal | undefined
}

/** What the origin said, for the trace and the access line. */
export interface OriginFacts {
  readonly status: number
  readonly ms: number
}

export type FillResult =
  /**
   * Stored (or, for a revalidation the merge made unstorable, `shareable: false`: only the leader may use it).
   * `vary`: the Vary index it is stored under (null when it does not vary). `written` settles when the store write is
   * done (it never rejects).
   */
  | {
    readonly kind: 'entry',
    readonly entry: StoredEntry,
    /**
     * What the leader's own client gets: the entry with the fields the store verdict kept out of it (§5.2.2.4
     * `no-cache="set-cookie"` stores the page without its cookie; the request that got the cookie keeps it).
     */
    readonly own: StoredEntry,
    readonly vary: VaryIndex | null,
    readonly revalidated: boolean,
    readonly shareable: boolean,
    readonly written: Promise<void>,
    readonly origin: OriginFacts
  }
  /** Not stored: the leader relays this response (head = body bytes already read; the rest unread). */
  | { readonly kind: 'stream', readonly response: OriginResponse, readonly head: readonly Buffer[] | null, readonly reason: StreamReason, readonly origin: OriginFacts }
  /** No usable answer: the origin failed before or during the body. */
  | { readonly kind: 'error', readonly error: CorralError, readonly origin: OriginFacts | null }

/** Why a fill streamed instead of storing: policy's reason, a body over cache.maxObjectBytes, or an origin 5xx. */
export type StreamReason = NotStorableReason | 'too-large' | 'error-status'

/** What a fill reads from config and the cache in force; the coalescer swaps it whole on reload. */
export interface FillContext {
  readonly origin: OriginClient
  readonly store: CacheStore
  readonly now: () => number
  readonly storeOptions: StoreOptions
  readonly maxObjectBytes: number
  /** Fields the operator forwards on fills are keyed as if the origin had named them in Vary (core/headers.ts). */
  readonly fillHeaders: FillHeaderRules
  readonly logger: Logger
  /** Tags and purge records (purge/fill-purge.ts); absent: entries carry neither. */
  readonly purge?: FillPurge | undefined
}

/** Headers corral sets itself on the way out; the origin's are dropped. */
export const REPLACED = new Set(['age', 'content-length', 'x-cache', 'cache-status'])

/** A 5xx is an origin in trouble, not a page: never stored over a good copy, shared with waiters as a failure. */
export function isOriginFailureStatus (status: number): boolean {
  return status >= 500
}

export async function fill (ctx: FillContext, req: FillRequest): Promise<FillResult> {
  const conditional = req.stale !== undefined ? makeConditionalHeaders(req.stale) : null
  const headers = conditional === null ? req.originHeaders : { ...req.originHeaders, ...conditional }
  // Before the request: a purge issued while it is in flight names this fill too (purge/bans.ts).
  const requestedAt = ctx.now()
  let response: OriginResponse
  try {
    response = await ctx.origin.request({ method: 'GET', path: req.path, headers, group: req.group, signal: req.signal })
  } catch (err) {
    return { kind: 'error', error: err as CorralError, origin: null }
  }
  try {
    return await onHeaders(ctx, req, response, requestedAt, conditional !== null)
  } catch (err) {
    // The body holds an origin limiter slot until it ends or closes (origin/fetch.ts), and a paused one holds its
    // undici connection: whatever throws between the headers and the body's last byte must not keep either for ever.
    abandon(response.body)
    throw err
  }
}

/** The origin's headers have arrived: decide, then read (or hand over) the body. */
async function onHeaders (ctx: FillContext, req: FillRequest, response: OriginResponse, requestedAt: number, conditionalSent: boolean): Promise<FillResult> {
  const now = ctx.now()
  const origin: OriginFacts = { status: response.status, ms: response.latencyMs }

  if (response.status === 304) {
    response.body.resume()
    if (req.stale !== undefined && conditionalSent) return storeRevalidated(ctx, req, req.stale, response.headers, now, origin, requestedAt)
    // RFC 9110 §15.4.5: a 304 answers a conditional request only. To an unconditional fill it is a broken answer:
    // one 502 for the leader and its waiters alike (not an empty reply each, nor a fetch per waiter).
    return { kind: 'error', error: new OriginBadAnswerError('304 Not Modified to an unconditional request'), origin }
  }

  // An origin error must not replace a good copy still inside its stale-if-error window, even one it lets be stored.
  if (isStaleBetterThanError(req.stale, response.status, now)) return { kind: 'stream', response, head: null, reason: 'error-status', origin }
  const facts = { method: 'GET', url: req.path, headers: req.requestHeaders }
  const verdict = decideStorable(facts, response, now, ctx.storeOptions)
  const declaredLength = Number(firstValue(response.headers['content-length']) ?? 0)
  if (!verdict.storable || declaredLength > ctx.maxObjectBytes) {
    const reason = isOriginFailureStatus(response.status) ? 'error-status' : !verdict.storable ? verdict.reason : 'too-large'
    return { kind: 'stream', response, head: null, reason, origin }
  }

  let read
  try {
    read = await readBodyUpTo(response.body, ctx.maxObjectBytes, ctx.origin.fillBodyTimeoutMs ?? 0)
  } catch (err) {
    return { kind: 'error', error: err as CorralError, origin }
  }
  if (read.kind === 'overflow') return { kind: 'stream', response, head: read.head, reason: 'too-large', origin }

  const vary = withKeyedHeaders(parseVary(response.headers.vary), ctx.fillHeaders.keyed)
  const index = vary === null ? null : makeVaryIndex(req, vary, now)
  const key = index === null ? req.primaryKey : makeVariantKey(req.primaryKey, index.epoch, index.varyHeaders, req.requestHeaders)
  const purge = ctx.purge === undefined ? undefined : entryPurgeFields(ctx.purge, response.headers, requestedAt)
  const entry = makeEntry(key, response.status, withoutFields(response.headers, verdict.omitFields), read.body, verdict.deadlines, purge)
  const own = verdict.omitFields.length === 0 ? entry : makeEntry(key, response.status, response.headers, read.body, verdict.deadlines, purge)
  return { kind: 'entry', entry, own, vary: index, revalidated: false, shareable: true, written: storeEntry(ctx, req.primaryKey, index, entry, verdict.ttlMs), origin }
}

function storeRevalidated (
  ctx: FillContext, req: FillRequest, stale: StoredEntry, notModified: HeaderRecord, now: number, origin: OriginFacts, requestedAt: number
): FillResult {
  const purge = ctx.purge === undefined ? undefined : entryPurgeFields(ctx.purge, notModified, requestedAt, stale)
  // RFC 9111 §4.3.4: the 304's fields update the stored response; freshness is decided again from the merge.
  const merged = mergeNotModified(stale, notModified)
  const facts = { method: 'GET', url: req.path, headers: req.requestHeaders }
  const verdict = decideStorable(facts, { status: stale.status, headers: merged }, now, ctx.storeOptions)
  if (!verdict.storable) {
    // The origin no longer lets the page be kept: this request gets the merge once, and the stored copy goes.
    const entry = makeEntry(stale.key, stale.status, merged, stale.body, UNSTORED(now), purge)
    return { kind: 'entry', entry, own: entry, vary: req.varyIndex, revalidated: true, shareable: false, written: safely(ctx, ctx.store.delete(stale.key)), origin }
  }
  const entry = makeEntry(stale.key, stale.status, withoutFields(merged, verdict.omitFields), stale.body, verdict.deadlines, purge)
  return { kind: 'entry', entry, own: entry, vary: req.varyIndex, revalidated: true, shareable: true, written: storeEntry(ctx, req.primaryKey, null, entry, verdict.ttlMs), origin }
}

function UNSTORED (now: number): Deadlines {
  return { storedAt: now, initialAgeSeconds: 0, freshUntil: now, staleWhileRevalidateUntil: now, staleIfErrorUntil: now, mustRevalidate: true }
}

function makeVaryIndex (req: FillRequest, vary: string[], now: number): VaryIndex {
  const known = req.varyIndex
  if (known !== null && known.varyHeaders.length === vary.length && known.varyHeaders.every((h, i) => h === vary[i])) return known
  return { kind: 'vary', key: req.primaryKey, varyHeaders: vary, epoch: randomBytes(6).toString('base64url'), storedAt: now }
}

export function makeEntry (key: string, status: number, headers: HeaderRecord, body: Buffer, d: Deadlines, purge?: EntryPurgeFields): StoredEntry {
  const flat = toFlatHeaders(headers, purge?.dropHeaders ?? REPLACED)
  flat.push('content-length', String(body.length))
  appendVia(flat)
  return {
    kind: 'entry',
    key,
    status,
    headers: flat,
    body,
    storedAt: d.storedAt,
    initialAgeSeconds: d.initialAgeSeconds,
    freshUntil: d.freshUntil,
    staleWhileRevalidateUntil: d.staleWhileRevalidateUntil,
    staleIfErrorUntil: d.staleIfErrorUntil,
    mustRevalidate: d.mustRevalidate,
    graceWindow: d.graceWindow,
    etag: firstValue(headers.etag),
    lastModified: firstValue(headers['last-modified']),
    requestedAt: purge?.requestedAt,
    tags: purge?.tags
  }
}

/** How long a Vary index lives: longer than any of its variants, so a variant is never orphaned by accident. */
const VARY_INDEX_TTL_MS = 24 * 3600_000

async function storeEntry (ctx: FillContext, primaryKey: string, index: VaryIndex | null, entry: StoredEntry, ttlMs: number): Promise<void> {
  // A purge issued since the fill asked the origin: stored softened, or not at all.
  const kept = screenForStore(ctx.purge, entry, ttlMs)
  if (kept === null) return
  if (index !== null) await safely(ctx, ctx.store.set(primaryKey, index, Math.max(kept.ttlMs, VARY_INDEX_TTL_MS)))
  await safely(ctx, ctx.store.set(kept.entry.key, kept.entry, kept.ttlMs))
}

async function safely (ctx: FillContext, op: void | Promise<void>): Promise<void> {
  try {
    await op
  } catch (err) {
    // Stores are documented never to throw; this is the belt to that brace.
    ctx.logger.warn({ err }, 'store error')
  }
}
