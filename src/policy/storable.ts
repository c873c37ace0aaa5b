/**
 * policy/storable: may corral keep this response, and until when is it fresh, stale-servable, or a fallback for
 * errors? Runs once per origin response, so a hit only compares the numbers it produces. Pure: `now` is passed in.
 *
 * The RFC 9111 rules are corral's own (policy/cache-control, targeted, freshness, status: http-cache-semantics
 * misreads several of them, see policy/freshness.ts); corral adds the shared-proxy policies on top: Set-Cookie,
 * Vary: *, the operator's grace and stale-if-error defaults.
 */
import { isHopByHop, type HeaderRecord, type HeaderValue } from '../core/headers.js'
import { parseVary } from '../core/vary.js'
import type { EntryDeadlines } from '../core/entry.js'
import { deltaSeconds, qualifiedFields } from './cache-control.js'
import { freshnessLifetime, initialAge } from './freshness.js'
import { isHeuristicallyCacheable, isNeverStored, isServerError, isUnderstoodStatus } from './status.js'
import { DEFAULT_TARGETED_FIELDS, selectDirectives } from './targeted.js'

export interface StoreOptions {
  readonly graceSeconds: number
  readonly staleIfErrorSeconds: number
  readonly heuristicFraction: number
  readonly storeSetCookie: boolean
  /** Kept this long past the last stale window: for revalidation, and for cache-only / saturated answers. */
  readonly keepStaleSeconds: number
  /**
   * RFC 9213 target list, most specific first, lower-case (policy/targeted.ts makeTargetList, when the config
   * loads). Absent: DEFAULT_TARGETED_FIELDS (Corral-Cache-Control, CDN-Cache-Control, Surrogate-Control).
   */
  readonly targetedFields?: readonly string[]
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

/** Why a fill streamed instead of storing: policy's reason, a body over cache.maxObjectBytes, or an origin 5xx. */
export type StreamReason = NotStorableReason | 'too-large' | 'error-status'

export type NotStorableReason =
  'method' | 'status' | 'no-store' | 'private' | 'authorization' | 'set-cookie' | 'vary-star' | 'no-freshness'

export type StoreVerdict =
  | { readonly storable: false, readonly reason: NotStorableReason }
  | {
    readonly storable: true
    readonly deadlines: Deadlines
    readonly ttlMs: number
    /**
     * Lower-case response fields never stored with this response: those a qualified `no-cache="…"` or
     * `private="…"` names (RFC 9111 §5.2.2.4, §5.2.2.7) and those its Connection lists (§3.1). Usually empty.
     */
    readonly omitFields: readonly string[]
  }

const NONE: readonly string[] = Object.freeze([])

/** A store record lives at least this long: a TTL of 0 means "never expires" to memcached. */
const MIN_TTL_MS = 1000

export function decideStorable (req: RequestFacts, res: ResponseFacts, now: number, options: StoreOptions): StoreVerdict {
  if (req.method !== 'GET' && req.method !== 'HEAD') return NOT.method
  const { status, headers } = res
  // RFC 9111 §3: final statuses only; partial content is never assembled here, and a 304 updates rather than stores.
  if (isNeverStored(status)) return NOT.status
  const { source, directives: cc } = selectDirectives(headers, options.targetedFields ?? DEFAULT_TARGETED_FIELDS)
  const understood = isUnderstoodStatus(status)
  if (cc.has('must-understand')) {
    // §5.2.2.3: stored only by a cache that understands the status, which then ignores no-store.
    if (!understood) return NOT.status
  } else if (cc.has('no-store')) {
    return NOT['no-store']
  }
  const privateFields = qualifiedFields(cc, 'private')
  // §5.2.2.7: a shared cache must not store a private response; `private="F"` only withholds F.
  if (cc.has('private') && privateFields === null) return NOT.private
  if (parseVary(headers.vary)?.includes('*') === true) return NOT['vary-star']
  // §3.5: a response to a request with Authorization is shared only when the origin says so.
  if (req.headers.authorization !== undefined && !(cc.has('public') || cc.has('s-maxage') || cc.has('must-revalidate'))) {
    return NOT.authorization
  }
  const noCacheFields = qualifiedFields(cc, 'no-cache')
  const omitFields = makeOmitFields(privateFields, noCacheFields, headers.connection)
  // One user's cookie must never reach another: stored only when the operator allows it and the origin says public.
  if (headers['set-cookie'] !== undefined && !omitFields.includes('set-cookie') && !(options.storeSetCookie && cc.has('public'))) {
    return NOT['set-cookie']
  }

  const lifetime = freshnessLifetime(cc, headers, status, now, options.heuristicFraction, source === 'cache-control')
  // §3: storable with explicit freshness or `public` when understood, or by default for a heuristically cacheable
  // status (whose freshness is then heuristic or nothing); an unknown status only with explicit freshness.
  if (!lifetime.explicit && !(isHeuristicallyCacheable(status) || (understood && cc.has('public')))) return NOT.status

  const age = initialAge(headers)
  // §5.2.2.4: unqualified no-cache (or a response Pragma: no-cache with no Cache-Control, as http-cache-semantics
  // read it) means every reuse needs the origin's word.
  const noCache = (cc.has('no-cache') && noCacheFields === null) || isPragmaNoCache(source, headers)
  // An Age that cannot be read is not trusted: the response is stale on arrival (policy/freshness.ts initialAge).
  const lifetimeSeconds = noCache || age === null ? 0 : Math.max(0, lifetime.seconds - age)
  const initialAgeSeconds = age ?? 0
  const hasValidator = headers.etag !== undefined || headers['last-modified'] !== undefined
  if (lifetimeSeconds === 0 && !hasValidator) return NOT['no-freshness']

  // §4.2.4: no-cache, must-revalidate, proxy-revalidate forbid serving stale without the origin's word.
  const mustRevalidate = noCache || cc.has('must-revalidate') || cc.has('proxy-revalidate')
  const freshUntil = now + lifetimeSeconds * 1000
  let swrSeconds = 0
  let sieSeconds = 0
  if (!mustRevalidate) {
    // RFC 5861 §3 / §4: the origin's windows win; otherwise the operator's defaults. s-maxage implies
    // proxy-revalidate for shared caches (RFC 9111 §5.2.2.10), so it gets no default grace, only explicit windows;
    // nor does a response kept only for its validator (no freshness at all): the origin never offered it as a copy;
    // nor does a server error: a cached 503 must not outlive what the origin asked for.
    const defaultsApply = !cc.has('s-maxage') && lifetimeSeconds > 0 && !isServerError(status)
    swrSeconds = deltaSeconds(cc, 'stale-while-revalidate') ?? (defaultsApply ? options.graceSeconds : 0)
    sieSeconds = deltaSeconds(cc, 'stale-if-error') ?? (defaultsApply ? options.staleIfErrorSeconds : 0)
  }
  const staleWhileRevalidateUntil = freshUntil + swrSeconds * 1000
  // An entry that may be served stale while refreshing may also be served stale when that refresh fails.
  const staleIfErrorUntil = Math.max(freshUntil + sieSeconds * 1000, staleWhileRevalidateUntil)
  const keepSeconds = isServerError(status) ? 0 : options.keepStaleSeconds
  const usefulUntil = staleIfErrorUntil + keepSeconds * 1000
  return {
    storable: true,
    deadlines: {
      storedAt: now,
      initialAgeSeconds,
      freshUntil,
      staleWhileRevalidateUntil,
      staleIfErrorUntil,
      mustRevalidate,
      graceWindow: swrSeconds > 0 && deltaSeconds(cc, 'stale-while-revalidate') === undefined ? true : undefined
    },
    ttlMs: Math.max(MIN_TTL_MS, usefulUntil - now),
    omitFields
  }
}

function isPragmaNoCache (source: string, headers: HeaderRecord): boolean {
  if (source !== 'cache-control' || headers['cache-control'] !== undefined || headers.pragma === undefined) return false
  const pragma = Array.isArray(headers.pragma) ? headers.pragma.join(',') : headers.pragma
  return /(?:^|,)\s*no-cache\s*(?:,|$)/i.test(pragma)
}

/** Fields a qualified no-cache / private names, plus those Connection lists (§3.1: never stored). */
function makeOmitFields (privateFields: string[] | null, noCacheFields: string[] | null, connection: HeaderValue): readonly string[] {
  if (privateFields === null && noCacheFields === null && !namesFields(connection)) return NONE
  const out: string[] = [...(privateFields ?? []), ...(noCacheFields ?? [])]
  if (connection !== undefined) {
    for (const part of (Array.isArray(connection) ? connection.join(',') : connection).split(',')) {
      const name = part.trim().toLowerCase()
      if (name !== '' && name !== 'close' && name !== 'keep-alive' && !isHopByHop(name)) out.push(name)
    }
  }
  return [...new Set(out)]
}

function namesFields (connection: HeaderValue): boolean {
  return connection !== undefined && connection !== 'keep-alive' && connection !== 'close' && connection !== 'Keep-Alive'
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
