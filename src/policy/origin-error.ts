/**
 * policy/origin-error: the origin sent a 5xx, or nothing at all: may the stale copy answer instead? Decided here once,
 * for the fill (store the error, or keep the copy) and for the fallback (relay the error, or serve the copy).  [pure]
 */
import type { StoredEntry } from '../core/entry.js'
import { mayServeOnError } from './usable.js'
import type { ShedReason } from '../core/shed-reason.js'

/**
 * - page: not an origin failure (status below 500): judged as any answer is.
 * - stale: the stale copy answers (RFC 5861 §4 stale-if-error); nothing is stored over it.
 * - error: no stand-in: a storable error is stored like a page; otherwise the client gets the error.
 */
export type OriginErrorVerdict = 'page' | 'stale' | 'error'

/** A status for "no answer at all" (the origin failed, timed out or refused): always an origin failure. */
export const NO_ANSWER = 0

/**
 * `status` is the origin's (NO_ANSWER when there was none); `storable`: the answer may be kept (policy/storable.ts,
 * within cache.maxObjectBytes). A storable error only yields to a good copy for the statuses stale-if-error names
 * (isStaleBetterThanError, below); an error nobody may keep yields to any copy still inside its stale-if-error window.
 * https://www.rfc-editor.org/rfc/rfc5861#section-4
 */
export function decideOriginError (stale: StoredEntry | undefined, status: typeof NO_ANSWER, storable: false, now: number): 'stale' | 'error'
export function decideOriginError (stale: StoredEntry | undefined, status: number, storable: boolean, now: number): OriginErrorVerdict
export function decideOriginError (stale: StoredEntry | undefined, status: number, storable: boolean, now: number): OriginErrorVerdict {
  if (status !== NO_ANSWER && status < 500) return 'page'
  if (storable) return isStaleBetterThanError(stale, status, now) ? 'stale' : 'error'
  return stale !== undefined && mayServeOnError(stale, now) ? 'stale' : 'error'
}

/**
 * Why the origin gives no answer: a shed reason (corral keeps requests away: cache-only, shedPercent, saturation seen
 * before the request), the origin limiter refusing this request (`origin-busy`), or the origin failing.
 */
export type NoAnswerCause = ShedReason | 'origin-busy' | 'origin-error'

/**
 * - stale: the stored copy answers (STALE);
 * - shed: the route's shed answer (corral held the request back, nothing usable is stored);
 * - error: 502/504, or the origin's own 5xx when it sent one.
 */
export type Fallback = 'stale' | 'shed' | 'error'

/**
 * What answers when the origin does not, decided in one place. Shedding by flag: a stale copy of any age beats an
 * error page, and nothing reaches the origin. A saturated origin: any stale copy it did not forbid serving stale
 * (must-revalidate, no-cache). An origin failure: RFC 5861 §4 stale-if-error (and corral's own window).
 */
export function decideFallback (stale: StoredEntry | undefined, cause: NoAnswerCause, now: number): Fallback {
  if (cause === 'origin-error') return decideOriginError(stale, NO_ANSWER, false, now)
  if (stale === undefined || (cause === 'origin-busy' && stale.mustRevalidate)) return 'shed'
  return 'stale'
}

/*
 * A storable error must not replace a good stale copy that may still stand in for errors. Since a 5xx with explicit
 * freshness is storable (RFC 9111 §3), a fill that got `503, max-age=5` would otherwise overwrite a 200 still inside
 * its stale-if-error window, and clients would get the 503 where RFC 5861 §4 lets them have the 200.
 */
/** RFC 5861 §4: the statuses stale-if-error stands in for ("an error is any situation that would result in a 500, 502, 503, or 504"). */
const ERRORS = new Set([500, 502, 503, 504])

/**
 * Should the fill serve (and keep) `stale` instead of storing the origin's `status` answer? True when the answer
 * is an error stale-if-error covers, and the stored copy is a non-error still inside its stale-if-error window.
 */
export function isStaleBetterThanError (stale: StoredEntry | undefined, status: number, now: number): boolean {
  return stale !== undefined && ERRORS.has(status) && stale.status < 500 && mayServeOnError(stale, now)
}
