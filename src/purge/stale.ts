/**
 * purge/stale: the one rule by which corral makes a stored entry stale before its time, for an unsafe request's
 * invalidation (RFC 9111 §4.4), a HEAD that disagrees with the stored GET (§4.3.5) and a soft purge.  [pure]
 */
import type { StoredEntry } from '../core/entry.js'

/**
 * Stale from `at`, and servable stale afterwards for `servableStaleMs` at least (the origin's own
 * stale-while-revalidate window is kept when it is longer). 0 grants nothing: an invalidated entry needs validation
 * before it answers again (https://www.rfc-editor.org/rfc/rfc9111#section-4.4), though it stays a stale-if-error
 * fallback (its other deadlines are kept). An entry already stale at `at` keeps its deadlines unless they would let it
 * be served stale longer than granted with 0. Idempotent: the same call on its own result returns that result.
 */
export function makeStale (entry: StoredEntry, at: number, servableStaleMs: number): StoredEntry {
  if (servableStaleMs > 0) {
    if (entry.freshUntil <= at) return entry
    return { ...entry, freshUntil: at, staleWhileRevalidateUntil: Math.max(entry.staleWhileRevalidateUntil, at + servableStaleMs) }
  }
  if (entry.freshUntil === at && entry.staleWhileRevalidateUntil === at) return entry
  return { ...entry, freshUntil: at, staleWhileRevalidateUntil: at }
}
