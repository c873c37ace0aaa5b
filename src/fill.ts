/**
 * fill: the fetch → store stage of a miss or a revalidation (Varnish's backend side: it runs apart from any client).
 * Fetches from the origin, decides storability the moment headers arrive (policy/storable), stores what is storable
 * and returns what happened. It answers as soon as waiters can know their fate: a `stream` result comes back with
 * the body unread, so the coalescer releases waiters before an uncacheable body is read; an `entry` result comes back
 * before the store write lands (`written`), so waiters are served while memcached is still being written.
 */
import { randomBytes } from 'node:crypto'
import type { CacheStore } from './store/types.js'
import type { FillRequest } from './core/fill-request.js'
import type { StoredEntry, VaryIndex } from './core/entry.js'
import type { Logger } from './core/log.js'
import { abandon, readBodyUpTo } from './origin/body.js'
import { type OriginClient, type OriginResponse } from './origin/types.js'
import { decideStorable, type Deadlines, type StoreOptions, type StreamReason } from './policy/storable.js'
import { makeConditionalHeaders, mergeNotModified } from './policy/revalidate.js'
import { withoutFields } from './policy/omit.js'
import { decideOriginError } from './policy/origin-error.js'
import { makeVariantKey } from './key.js'
import { parseVary } from './core/vary.js'
import { firstValue, type HeaderRecord } from './core/headers.js'
import { dropAnswerShaping, makeOriginHeaders, withKeyedHeaders, type FillHeaderRules } from './core/origin-headers.js'
import { makeEntry, type FillPurgePort } from './core/make-entry.js'
import { OriginBadAnswerError, type CorralError } from './core/errors.js'
import { KEEP_BODY, prepareBody, type CompressContext } from './fill-compress.js'
import { makeStreamCodings, type FillStreamCodings } from './fill-stream-codings.js'
import { codedBodiesOf } from './core/coded-body.js'
import { planBody, withoutAcceptEncoding } from './policy/compress.js'
import {
  isShareable, isStreamable, isUnsizedStreamable, readGrowing, readShared, readUnsized, STREAM_FROM_BYTES, withDeclaredLength, withoutLength, type OnGrowing
} from './origin/growing-fill.js'

export type { ClientFacts, FillRequest } from './core/fill-request.js'
export type { StreamReason } from './policy/storable.js'

/** What a leader sends the origin, and the request headers that pick the variant. */
export interface OriginAsk {
  /** Origin request headers without validators (core/headers.ts makeOriginHeaders, role 'fill'). */
  readonly originHeaders: Record<string, string | string[]>
  /** The client's request headers as the origin receives them (core/headers.ts dropAnswerShaping). */
  readonly requestHeaders: HeaderRecord
}

/** Built once per fill, by the leader: answer-shaping fields the answer does not vary on are not sent, nor keyed. */
export function makeOriginAsk (req: FillRequest, rules: FillHeaderRules): OriginAsk {
  const { headers, address, keyHost } = req.client
  const originHeaders = makeOriginHeaders(headers, address, 'fill', keyHost)
  return { originHeaders, requestHeaders: dropAnswerShaping(originHeaders, headers, rules, req.varyIndex?.varyHeaders ?? null) }
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
  | {
    readonly kind: 'stream',
    readonly response: OriginResponse,
    readonly head: readonly Buffer[] | null,
    readonly reason: StreamReason,
    readonly origin: OriginFacts,
    /** Over cache.maxObjectBytes and relayed to every client of the fetch already (origin/shared-stream.ts): body read. */
    readonly shared?: true
  }
  /** No usable answer: the origin failed before or during the body. */
  | { readonly kind: 'error', readonly error: CorralError, readonly origin: OriginFacts | null }

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
  readonly purge?: FillPurgePort | undefined
  /** cache.compress (fill-compress.ts); absent: bodies are stored as the origin sent them. */
  readonly compress?: CompressContext | undefined
}

/** `onGrowing`: told when a storable answer starts streaming to its clients (origin/growing-fill.ts). */
export async function fill (ctx: FillContext, req: FillRequest, ask: OriginAsk, onGrowing?: OnGrowing): Promise<FillResult> {
  const conditional = req.stale !== undefined ? makeConditionalHeaders(req.stale) : null
  const headers = conditional === null ? ask.originHeaders : { ...ask.originHeaders, ...conditional }
  // Before the request: a purge issued while it is in flight names this fill too (purge/bans.ts).
  const requestedAt = ctx.now()
  let response: OriginResponse
  try {
    response = await ctx.origin.request({ method: 'GET', path: req.path, headers, group: req.group, signal: req.signal })
  } catch (err) {
    return { kind: 'error', error: err as CorralError, origin: null }
  }
  try {
    return await onHeaders(ctx, req, ask.requestHeaders, response, requestedAt, conditional !== null, onGrowing)
  } catch (err) {
    // The body holds an origin limiter slot until it ends or closes (origin/fetch.ts), and a paused one holds its
    // undici connection: whatever throws between the headers and the body's last byte must not keep either for ever.
    abandon(response.body)
    throw err
  }
}

/** The origin's headers have arrived: decide, then read (or hand over) the body. */
async function onHeaders (
  ctx: FillContext, req: FillRequest, requestHeaders: HeaderRecord, response: OriginResponse, requestedAt: number, conditionalSent: boolean,
  onGrowing?: OnGrowing
): Promise<FillResult> {
  const now = ctx.now()
  const origin: OriginFacts = { status: response.status, ms: response.latencyMs }

  if (response.status === 304) {
    response.body.resume()
    if (req.stale !== undefined && conditionalSent) return storeRevalidated(ctx, req, requestHeaders, req.stale, response.headers, now, origin, requestedAt)
    // RFC 9110 §15.4.5: a 304 answers a conditional request only. To an unconditional fill it is a broken answer:
    // one 502 for the leader and its waiters alike (not an empty reply each, nor a fetch per waiter).
    return { kind: 'error', error: new OriginBadAnswerError('304 Not Modified to an unconditional request'), origin }
  }

  const facts = { method: 'GET', url: req.path, headers: requestHeaders }
  const verdict = decideStorable(facts, response, now, ctx.storeOptions)
  const declaredLength = Number(firstValue(response.headers['content-length']) ?? 0)
  const keep = verdict.storable && declaredLength <= ctx.maxObjectBytes
  // An origin error must not replace a good copy still inside its stale-if-error window, even one it lets be stored;
  // one nobody may keep is an origin in trouble, shared with waiters as a failure (coalesce/miss.ts).
  const onError = decideOriginError(req.stale, response.status, keep, now)
  if (onError === 'stale' || (onError === 'error' && !keep)) return { kind: 'stream', response, head: null, reason: 'error-status', origin }
  if (!verdict.storable) return { kind: 'stream', response, head: null, reason: verdict.reason, origin }

  const purge = ctx.purge === undefined ? undefined : ctx.purge.fieldsOf(response.headers, requestedAt)
  if (!keep) {
    if (onGrowing === undefined || verdict.omitFields.length !== 0 || !isShareable(declaredLength, ctx.maxObjectBytes)) {
      return { kind: 'stream', response, head: null, reason: 'too-large', origin }
    }
    // Too large to store, shareable all the same: every client of this fetch reads the one origin stream.
    const { index, key } = variantOf(ctx, req, requestHeaders, response.headers, false, now)
    const head = withDeclaredLength(makeEntry(key, response.status, response.headers, EMPTY, verdict.deadlines, purge), declaredLength, EMPTY)
    try {
      await readShared(response.body, declaredLength, head, index, origin.ms, response.timeoutMs, onGrowing)
    } catch (err) {
      return { kind: 'error', error: err as CorralError, origin }
    }
    return { kind: 'stream', response, head: null, reason: 'too-large', origin, shared: true }
  }

  // A large answer streams to the leader and its waiters while it arrives (growing-fill.ts), with a known length or
  // without one (chunked transfer: past its first read). One corral will compress streams too, each client in its
  // coding made on the fly (fill-stream-codings.ts), and is stored coded once whole. An origin's own coding is read
  // whole: it must decode before anyone is served from it (fill-compress.ts).
  const contentLength = firstValue(response.headers['content-length'])
  const plan = ctx.compress === undefined ? null : planBody(response.headers, contentLength === undefined ? STREAM_FROM_BYTES : declaredLength, ctx.compress.settings).kind
  const growing = onGrowing !== undefined && verdict.omitFields.length === 0 &&
    (isStreamable(declaredLength, ctx.maxObjectBytes) || isUnsizedStreamable(contentLength, ctx.maxObjectBytes)) && plan !== 'decode'
  const coding = growing && plan === 'compress'
  const streamed = growing ? variantOf(ctx, req, requestHeaders, response.headers, coding, now) : null
  const deadlineMs = ctx.origin.fillBodyTimeoutMs ?? 0
  let read
  let codings: FillStreamCodings | null = null
  try {
    if (streamed === null || onGrowing === undefined) {
      read = await readBodyUpTo(response.body, ctx.maxObjectBytes, deadlineMs)
    } else {
      const head = makeEntry(streamed.key, response.status, response.headers, EMPTY, verdict.deadlines, purge)
      codings = coding && ctx.compress !== undefined ? makeStreamCodings(onGrowing, ctx.compress) : null
      const announce = codings?.announce ?? onGrowing
      read = contentLength === undefined
        ? await readUnsized(response.body, ctx.maxObjectBytes, withoutLength(head, EMPTY), streamed.index, origin.ms, announce, deadlineMs)
        : await readGrowing(response.body, declaredLength, withDeclaredLength(head, declaredLength, EMPTY), streamed.index, origin.ms, announce, deadlineMs)
    }
  } catch (err) {
    return { kind: 'error', error: err as CorralError, origin }
  }
  if (read.kind === 'overflow') return { kind: 'stream', response, head: read.head, reason: 'too-large', origin }
  // Unsized and over cache.maxObjectBytes: relayed to the clients already reading it, never stored (growing-body.ts).
  if (read.kind === 'relayed') return { kind: 'stream', response, head: null, reason: 'too-large', origin, shared: true }

  // Compressed once, here (fill-compress.ts): every client is then served from this one entry, whatever it accepts.
  const prepared = ctx.compress === undefined || (streamed !== null && !coding)
    ? KEEP_BODY
    : await prepareBody(ctx.compress, response.headers, read.body, ctx.maxObjectBytes, await codings?.made())
  if (prepared.kind === 'corrupt') return { kind: 'error', error: prepared.error, origin }
  const coded = prepared.kind === 'coded' ? prepared.coded : undefined
  const headers = prepared.kind === 'coded' ? prepared.headers : response.headers
  const body = prepared.kind === 'coded' ? prepared.identity : read.body
  // Streamed as a compressible page, kept as it came after all (nothing shrank; unsized and small or past
  // cache.compress.maxBytes): keyed as any such entry, by the origin's Vary in full.
  const { index, key } = streamed !== null && coding === (coded !== undefined) ? streamed : variantOf(ctx, req, requestHeaders, response.headers, coded !== undefined, now)
  const entry = makeEntry(key, response.status, withoutFields(headers, verdict.omitFields), body, verdict.deadlines, purge, coded)
  const own = verdict.omitFields.length === 0 ? entry : makeEntry(key, response.status, headers, body, verdict.deadlines, purge, coded)
  return { kind: 'entry', entry, own, vary: index, revalidated: false, shareable: true, written: storeEntry(ctx, req.primaryKey, index, entry, verdict.ttlMs), origin }
}

function storeRevalidated (
  ctx: FillContext, req: FillRequest, requestHeaders: HeaderRecord, stale: StoredEntry, notModified: HeaderRecord, now: number, origin: OriginFacts,
  requestedAt: number
): FillResult {
  const purge = ctx.purge === undefined ? undefined : ctx.purge.fieldsOf(notModified, requestedAt, stale)
  // RFC 9111 §4.3.4: the 304's fields update the stored response; freshness is decided again from the merge.
  const merged = mergeNotModified(stale, notModified)
  const facts = { method: 'GET', url: req.path, headers: requestHeaders }
  const verdict = decideStorable(facts, { status: stale.status, headers: merged }, now, ctx.storeOptions)
  if (!verdict.storable) {
    // The origin no longer lets the page be kept: this request gets the merge once, and the stored copy goes.
    const entry = makeEntry(stale.key, stale.status, merged, stale.body, UNSTORED(now), purge, codedBodiesOf(stale))
    return { kind: 'entry', entry, own: entry, vary: req.varyIndex, revalidated: true, shareable: false, written: safely(ctx, ctx.store.delete(stale.key)), origin }
  }
  const entry = makeEntry(stale.key, stale.status, withoutFields(merged, verdict.omitFields), stale.body, verdict.deadlines, purge, codedBodiesOf(stale))
  return { kind: 'entry', entry, own: entry, vary: req.varyIndex, revalidated: true, shareable: true, written: storeEntry(ctx, req.primaryKey, null, entry, verdict.ttlMs), origin }
}

function UNSTORED (now: number): Deadlines {
  return { storedAt: now, initialAgeSeconds: 0, freshUntil: now, staleWhileRevalidateUntil: now, staleIfErrorUntil: now, mustRevalidate: true }
}

/**
 * The Vary index and the key an answer is stored under. A body corral serves coded per client (`coded`) does not vary
 * on Accept-Encoding in the cache: one entry holds every coding, negotiated on a hit.
 */
function variantOf (ctx: FillContext, req: FillRequest, requestHeaders: HeaderRecord, headers: HeaderRecord, coded: boolean, now: number): { index: VaryIndex | null, key: string } {
  const originVary = parseVary(headers.vary)
  const vary = withKeyedHeaders(coded ? withoutAcceptEncoding(originVary) : originVary, ctx.fillHeaders.keyed)
  const index = vary === null ? null : makeVaryIndex(req, vary, now)
  return { index, key: index === null ? req.primaryKey : makeVariantKey(req.primaryKey, index.epoch, index.varyHeaders, requestHeaders) }
}

function makeVaryIndex (req: FillRequest, vary: string[], now: number): VaryIndex {
  const known = req.varyIndex
  if (known !== null && known.varyHeaders.length === vary.length && known.varyHeaders.every((h, i) => h === vary[i])) return known
  return { kind: 'vary', key: req.primaryKey, varyHeaders: vary, epoch: randomBytes(6).toString('base64url'), storedAt: now }
}

const EMPTY = Buffer.alloc(0)

/** How long a Vary index lives: longer than any of its variants, so a variant is never orphaned by accident. */
const VARY_INDEX_TTL_MS = 24 * 3600_000

async function storeEntry (ctx: FillContext, primaryKey: string, index: VaryIndex | null, entry: StoredEntry, ttlMs: number): Promise<void> {
  // A purge issued since the fill asked the origin: stored softened, or not at all.
  const kept = ctx.purge === undefined ? { entry, ttlMs } : ctx.purge.screen(entry, ttlMs)
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
