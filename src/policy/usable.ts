/**
 * policy/usable: may a stored entry answer this request now? Pure, and only compares numbers the entry already
 * carries (policy/storable.ts computed them when the response was stored).
 */
import type { StoredEntry } from '../core/entry.js'

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
