/**
 * policy/usable: may a stored entry answer this request now? Pure, and only compares numbers the entry already
 * carries (policy/storable.ts computed them when the response was stored).
 */
import type { StoredEntry } from '../core/entry.js'
import type { ShedReason } from '../core/shed-reason.js'

/**
 * - fresh: serve it.
 * - stale: serve it now and let one request refresh it in the background (stale-while-revalidate / grace).
 * - expired: do not serve it without the origin; it may still supply validators and a stale-if-error fallback.
 */
export type Usability = 'fresh' | 'stale' | 'expired'

export function decideUsable (entry: StoredEntry, now: number): Usability {
  if (now < entry.freshUntil) return 'fresh'
  if (!entry.mustRevalidate && now < entry.staleWhileRevalidateUntil) return 'stale'
  return 'expired'
}

/** RFC 5861 §4: may this entry answer in place of an origin error? */
export function mayServeOnError (entry: StoredEntry, now: number): boolean {
  return !entry.mustRevalidate && now < entry.staleIfErrorUntil
}

/** RFC 9111 §4.2.3 current_age, in whole seconds for the Age header (§5.1). */
export function ageSeconds (entry: StoredEntry, now: number): number {
  const resident = now > entry.storedAt ? (now - entry.storedAt) / 1000 : 0
  return Math.floor(entry.initialAgeSeconds + resident)
}

/** Seconds of freshness left, for Cache-Status `ttl=` (RFC 9211 §2.5); negative once stale. */
export function ttlSeconds (entry: StoredEntry, now: number): number {
  return Math.floor((entry.freshUntil - now) / 1000)
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
  if (cause === 'origin-error') return stale !== undefined && mayServeOnError(stale, now) ? 'stale' : 'error'
  if (stale === undefined || (cause === 'origin-busy' && stale.mustRevalidate)) return 'shed'
  return 'stale'
}
