/**
 * policy/storable: may corral keep this response, and until when is it fresh, stale-servable, or a fallback for
 * errors? Runs once per origin response, so a hit only compares the numbers it produces. Pure: `now` is passed in.
 *
 * The RFC 9111 rules (storability, s-maxage > max-age > Expires, Age, heuristics) come from http-cache-semantics;
 * corral adds the shared-proxy policies on top: Set-Cookie, Vary: *, the operator's grace and stale-if-error defaults.
 */
import CachePolicy from 'http-cache-semantics'
import type { HeaderRecord } from '../core/headers.js'
import { parseVary } from '../key.js'
import type { EntryDeadlines } from '../core/entry.js'
import { deltaSeconds, parseCacheControl } from './cache-control.js'

export interface StoreOptions {
  readonly graceSeconds: number
  readonly staleIfErrorSeconds: number
  readonly heuristicFraction: number
  readonly storeSetCookie: boolean
  /** Kept this long past the last stale window: for revalidation, and for cache-only / saturated answers. */
  readonly keepStaleSeconds: number
}

export interface RequestFacts {
  readonly method: string
  readonly url: string
  readonly headers: HeaderRecord
}

export interface ResponseFacts {
  readonly status: number
  readonly headers: HeaderRecord
}

/** The deadlines a stored entry carries (core/entry.ts); decided here, compared on every hit. */
export type Deadlines = EntryDeadlines

export type NotStorableReason =
  'method' | 'status' | 'no-store' | 'private' | 'authorization' | 'set-cookie' | 'vary-star' | 'no-freshness'

export type StoreVerdict =
  | { readonly storable: false, readonly reason: NotStorableReason }
  | { readonly storable: true, readonly deadlines: Deadlines, readonly ttlMs: number }

let policyNow = 0
/** http-cache-semantics reads the clock through `now()`: this subclass reads ours (STYLE.md: pass `now` in). */
class ClockedPolicy extends CachePolicy {
  now (): number {
    return policyNow
  }
}

export function decideStorable (req: RequestFacts, res: ResponseFacts, now: number, options: StoreOptions): StoreVerdict {
  if (req.method !== 'GET' && req.method !== 'HEAD') return NOT.method
  // Partial content is never assembled here; only whole representations are kept.
  if (res.status === 206) return NOT.status
  const cc = parseCacheControl(res.headers['cache-control'])
  if (cc.has('no-store')) return NOT['no-store']
  // RFC 9111 §5.2.2.7: a shared cache must not store a private response.
  if (cc.has('private')) return NOT.private
  if (parseVary(res.headers.vary)?.includes('*') === true) return NOT['vary-star']
  // One user's cookie must never reach another: stored only when the operator allows it and the origin says public.
  if (res.headers['set-cookie'] !== undefined && !(options.storeSetCookie && cc.has('public'))) return NOT['set-cookie']

  policyNow = now
  const policy = new ClockedPolicy(withoutClientDirectives(req), { status: res.status, headers: joinedHeaders(res.headers) }, {
    shared: true,
    cacheHeuristic: options.heuristicFraction,
    immutableMinTimeToLive: 0
  })
  if (!policy.storable()) {
    // RFC 9111 §3.5: a request with Authorization is stored only with public, s-maxage or must-revalidate.
    if (req.headers.authorization !== undefined) return NOT.authorization
    return NOT.status
  }

  const initialAgeSeconds = policy.age()
  const lifetimeSeconds = Math.max(0, policy.maxAge() - initialAgeSeconds)
  const hasValidator = res.headers.etag !== undefined || res.headers['last-modified'] !== undefined
  // RFC 9111 §4.2.4: no-cache, must-revalidate, proxy-revalidate forbid serving stale without the origin's word.
  const mustRevalidate = cc.has('no-cache') || cc.has('must-revalidate') || cc.has('proxy-revalidate')
  if (lifetimeSeconds === 0 && !hasValidator) return NOT['no-freshness']

  const freshUntil = now + lifetimeSeconds * 1000
  let swrSeconds = 0
  let sieSeconds = 0
  if (!mustRevalidate) {
    // RFC 5861 §3 / §4: the origin's windows win; otherwise the operator's defaults. s-maxage implies
    // proxy-revalidate for shared caches (RFC 9111 §5.2.2.10), so it gets no default grace, only explicit windows;
    // nor does a response kept only for its validator (no freshness at all): the origin never offered it as a copy.
    const defaultsApply = !cc.has('s-maxage') && lifetimeSeconds > 0
    swrSeconds = deltaSeconds(cc, 'stale-while-revalidate') ?? (defaultsApply ? options.graceSeconds : 0)
    sieSeconds = deltaSeconds(cc, 'stale-if-error') ?? (defaultsApply ? options.staleIfErrorSeconds : 0)
  }
  const staleWhileRevalidateUntil = freshUntil + swrSeconds * 1000
  // An entry that may be served stale while refreshing may also be served stale when that refresh fails.
  const staleIfErrorUntil = Math.max(freshUntil + sieSeconds * 1000, staleWhileRevalidateUntil)
  const usefulUntil = staleIfErrorUntil + options.keepStaleSeconds * 1000
  return {
    storable: true,
    deadlines: { storedAt: now, initialAgeSeconds, freshUntil, staleWhileRevalidateUntil, staleIfErrorUntil, mustRevalidate },
    ttlMs: usefulUntil - now
  }
}

/**
 * The request as the storability decision sees it: without the client's Cache-Control and Pragma. A shared cache
 * ignores request directives (README): a client's `no-store` or `no-cache` must not keep a page out of the cache for
 * everyone else, nor turn its URL into a pass, nor delete the stored copy on revalidation.
 */
function withoutClientDirectives (req: RequestFacts): CachePolicy.Request {
  if (req.headers['cache-control'] === undefined && req.headers.pragma === undefined) {
    return { method: req.method, url: req.url, headers: joinedHeaders(req.headers) }
  }
  const headers = { ...req.headers }
  delete headers['cache-control']
  delete headers.pragma
  return { method: req.method, url: req.url, headers: joinedHeaders(headers) }
}

/**
 * Headers as http-cache-semantics reads them: one string per field. A field sent on several lines reaches corral as
 * an array (undici keeps them apart), and the library calls string methods on what it reads (`header.trim is not a
 * function` on two Cache-Control lines). List fields (Cache-Control, Pragma, Vary) are joined with ", ", which is
 * their meaning (RFC 9110 §5.3). A repeated singleton (Expires, Date, Last-Modified, Age, ETag) joins into a value
 * that does not parse: Expires then counts as already expired and Date as absent, the conservative reading RFC 9111
 * §4.2.1 allows ("the response should be considered stale"). Set-Cookie stays an array: the library expects one
 * and only tests that it is there.
 */
function joinedHeaders (headers: HeaderRecord): CachePolicy.Headers {
  let out: HeaderRecord | null = null
  for (const name in headers) {
    const value = headers[name]
    if (!Array.isArray(value) || name === 'set-cookie') continue
    out ??= { ...headers }
    out[name] = value.join(', ')
  }
  return out ?? headers
}

const NOT: { readonly [R in NotStorableReason]: StoreVerdict } = {
  method: { storable: false, reason: 'method' },
  status: { storable: false, reason: 'status' },
  'no-store': { storable: false, reason: 'no-store' },
  private: { storable: false, reason: 'private' },
  authorization: { storable: false, reason: 'authorization' },
  'set-cookie': { storable: false, reason: 'set-cookie' },
  'vary-star': { storable: false, reason: 'vary-star' },
  'no-freshness': { storable: false, reason: 'no-freshness' }
}
