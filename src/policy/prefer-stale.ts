/**
 * policy/prefer-stale: a storable error must not replace a good stale copy that may still stand in for errors.
 * Since a 5xx with explicit freshness is storable (RFC 9111 §3), a fill that got `503, max-age=5` would otherwise
 * overwrite a 200 still inside its stale-if-error window, and clients would get the 503 where RFC 5861 §4 lets them
 * have the 200. Pure.
 */
import type { StoredEntry } from '../core/entry.js'
import { mayServeOnError } from './usable.js'

/** RFC 5861 §4: the statuses stale-if-error stands in for ("an error is any situation that would result in a 500, 502, 503, or 504"). */
const ERRORS = new Set([500, 502, 503, 504])

/**
 * Should the fill serve (and keep) `stale` instead of storing the origin's `status` answer? True when the answer
 * is an error stale-if-error covers, and the stored copy is a non-error still inside its stale-if-error window.
 */
export function isStaleBetterThanError (stale: StoredEntry | undefined, status: number, now: number): boolean {
  return stale !== undefined && ERRORS.has(status) && stale.status < 500 && mayServeOnError(stale, now)
}
