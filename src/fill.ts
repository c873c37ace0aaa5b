/**
 * fill: the fetch → store stage of a miss or a revalidation. Fetches from the origin, decides storability the moment
 * headers arrive (policy/storable), settles the single-flight so waiters learn at once whether they may share, stores
 * what is storable, and hands the leader what to deliver. Used by foreground misses and background refreshes alike.
 */
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import type { CacheStore, StoredEntry, VaryIndex } from './store/types.js'
import type { FlightOutcome } from './coalesce/single-flight.js'
import { PASS_OUTCOME } from './coalesce/single-flight.js'
import { abandon, readBodyUpTo, type Origin, type OriginResponse } from './origin/fetch.js'
import { decideStorable, type Deadlines, type NotStorableReason, type RequestFacts, type StoreOptions } from './policy/storable.js'
import { makeConditionalHeaders, mergeNotModified } from './policy/revalidate.js'
import { makeVariantKey, parseVary } from './key.js'
import { appendVia, firstValue, toFlatHeaders, type HeaderRecord } from './core/headers.js'
import { OriginStatusError, type CorralError } from './core/errors.js'

export interface FillRequest {
  readonly facts: RequestFacts
  /** Path and query to ask the origin for. */
  readonly path: string
  readonly originHeaders: Record<string, string | string[]>
  readonly primaryKey: string
  /** The Vary index known from the lookup, if any (its epoch is kept when the origin still varies the same way). */
  readonly varyIndex: VaryIndex | null
  /** The expired or stale entry being replaced: supplies validators for a conditional request. */
  readonly staleEntry: StoredEntry | undefined
  /**
   * Remember the URL as uncacheable when its answer is not storable. Off for background refreshes: a refresh made
   * for a request with a session cookie must not switch caching off for everyone else.
   */
  readonly rememberUncacheable: boolean
  /** The origin group to ask (the route's `origin`); the default group when absent. */
  readonly group?: string
}

export type FillResult =
  | { readonly kind: 'stored', readonly entry: StoredEntry, readonly revalidated: boolean, readonly stored: boolean }
  /** Not storable: the leader streams this response to its client (head = bytes already read). */
  | { readonly kind: 'stream', readonly response: OriginResponse, readonly head: readonly Buffer[] | null, readonly reason: NotStorableReason | 'too-large' | 'error-status' }
  | { readonly kind: 'error', readonly error: CorralError }

export interface FillContext {
  readonly origin: Origin
  readonly store: CacheStore
  readonly now: () => number
  readonly storeOptions: StoreOptions
  readonly maxObjectBytes: number
  /**
   * A URL whose response is not storable is remembered for a while (Varnish's hit-for-miss lesson): its misses skip
   * coalescing. A storable answer later clears the mark.
   */
  readonly rememberPass: (primaryKey: string) => void
  readonly forgetPass: (primaryKey: string) => void
  readonly onOriginTiming: (ms: number, status: number) => void
  readonly onStoreError: (err: unknown) => void
}

/** Headers corral sets itself on the way out; the origin's are dropped. */
const REPLACED = new Set(['age', 'content-length', 'x-cache', 'cache-status'])

/** Statuses after which a URL is remembered as pass: the answer was a real, deliberate page, not a hiccup. */
function isDeliberate (status: number): boolean {
  return status < 500
}

export async function fill (ctx: FillContext, req: FillRequest, settle: (outcome: FlightOutcome) => void): Promise<FillResult> {
  const conditional = req.staleEntry !== undefined ? makeConditionalHeaders(req.staleEntry) : null
  const headers = conditional === null ? req.originHeaders : { ...req.originHeaders, ...conditional }
  const started = performance.now()
  let response: OriginResponse
  try {
    response = await ctx.origin.request({ method: 'GET', path: req.path, headers, group: req.group })
  } catch (err) {
    const error = err as CorralError
    settle({ kind: 'error', error })
    return { kind: 'error', error }
  }
  try {
    ctx.onOriginTiming(performance.now() - started, response.status)
    return await onHeaders(ctx, req, response, settle)
  } catch (err) {
    // The body holds an origin limiter slot until it ends or closes (fetch.ts), and a paused one holds its undici
    // connection: whatever throws between the headers and the body's last byte must not keep either for ever.
    abandon(response.body)
    throw err
  }
}

/** The origin's headers have arrived: decide, settle, and read (or hand over) the body. */
async function onHeaders (ctx: FillContext, req: FillRequest, response: OriginResponse, settle: (outcome: FlightOutcome) => void): Promise<FillResult> {
  const now = ctx.now()

  if (response.status === 304 && req.staleEntry !== undefined) {
    response.body.resume()
    return storeRevalidated(ctx, req, req.staleEntry, response.headers, now, settle)
  }

  const verdict = decideStorable(req.facts, response, now, ctx.storeOptions)
  const declaredLength = Number(firstValue(response.headers['content-length']) ?? 0)
  if (!verdict.storable || declaredLength > ctx.maxObjectBytes) {
    if (!isDeliberate(response.status)) {
      // An origin in trouble: waiters get its status (or a stale copy), not a request each to the failing origin.
      settle({ kind: 'error', error: new OriginStatusError(response.status) })
      return { kind: 'stream', response, head: null, reason: 'error-status' }
    }
    // Waiters are released before the body is read: they must not queue behind an uncacheable response.
    settle(PASS_OUTCOME)
    if (req.rememberUncacheable) ctx.rememberPass(req.primaryKey)
    return { kind: 'stream', response, head: null, reason: !verdict.storable ? verdict.reason : 'too-large' }
  }

  let read
  try {
    read = await readBodyUpTo(response.body, ctx.maxObjectBytes)
  } catch (err) {
    const error = err as CorralError
    settle({ kind: 'error', error })
    return { kind: 'error', error }
  }
  if (read.kind === 'overflow') {
    settle(PASS_OUTCOME)
    if (req.rememberUncacheable) ctx.rememberPass(req.primaryKey)
    return { kind: 'stream', response, head: read.head, reason: 'too-large' }
  }

  const vary = parseVary(response.headers.vary)
  const index = vary === null ? null : makeVaryIndex(req, vary, now)
  const key = index === null ? req.primaryKey : makeVariantKey(req.primaryKey, index.epoch, index.varyHeaders, req.facts.headers)
  const entry = makeEntry(key, response.status, response.headers, read.body, verdict.deadlines)
  settle({ kind: 'entry', entry, vary: index })
  ctx.forgetPass(req.primaryKey)
  await storeEntry(ctx, req.primaryKey, index, entry, verdict.ttlMs)
  return { kind: 'stored', entry, revalidated: false, stored: true }
}

async function storeRevalidated (
  ctx: FillContext, req: FillRequest, stale: StoredEntry, notModified: HeaderRecord, now: number,
  settle: (outcome: FlightOutcome) => void
): Promise<FillResult> {
  // RFC 9111 §4.3.4: the 304's fields update the stored response; freshness is decided again from the merge.
  const merged = mergeNotModified(stale, notModified)
  const verdict = decideStorable(req.facts, { status: stale.status, headers: merged }, now, ctx.storeOptions)
  const deadlines: Deadlines = verdict.storable
    ? verdict.deadlines
    : { storedAt: now, initialAgeSeconds: 0, freshUntil: now, staleWhileRevalidateUntil: now, staleIfErrorUntil: now, mustRevalidate: true }
  const entry = makeEntry(stale.key, stale.status, merged, stale.body, deadlines)
  if (!verdict.storable) {
    settle(PASS_OUTCOME)
    await safely(ctx, ctx.store.delete(stale.key))
    return { kind: 'stored', entry, revalidated: true, stored: false }
  }
  settle({ kind: 'entry', entry, vary: req.varyIndex })
  await safely(ctx, ctx.store.set(entry.key, entry, verdict.ttlMs))
  return { kind: 'stored', entry, revalidated: true, stored: true }
}

function makeVaryIndex (req: FillRequest, vary: string[], now: number): VaryIndex {
  const known = req.varyIndex
  if (known !== null && known.varyHeaders.length === vary.length && known.varyHeaders.every((h, i) => h === vary[i])) return known
  return { kind: 'vary', key: req.primaryKey, varyHeaders: vary, epoch: randomBytes(6).toString('base64url'), storedAt: now }
}

export function makeEntry (key: string, status: number, headers: HeaderRecord, body: Buffer, d: Deadlines): StoredEntry {
  const flat = toFlatHeaders(headers, REPLACED)
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
    etag: firstValue(headers.etag),
    lastModified: firstValue(headers['last-modified'])
  }
}

/** How long a Vary index lives: longer than any of its variants, so a variant is never orphaned by accident. */
const VARY_INDEX_TTL_MS = 24 * 3600_000

async function storeEntry (ctx: FillContext, primaryKey: string, index: VaryIndex | null, entry: StoredEntry, ttlMs: number): Promise<void> {
  if (index !== null) await safely(ctx, ctx.store.set(primaryKey, index, Math.max(ttlMs, VARY_INDEX_TTL_MS)))
  await safely(ctx, ctx.store.set(entry.key, entry, ttlMs))
}

async function safely (ctx: FillContext, op: void | Promise<void>): Promise<void> {
  try {
    await op
  } catch (err) {
    // Stores are documented never to throw; this is the belt to that brace.
    ctx.onStoreError(err)
  }
}
