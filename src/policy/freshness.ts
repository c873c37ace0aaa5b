/**
 * policy/freshness: a response's freshness lifetime and initial age (RFC 9111 §4.2.1-§4.2.3), computed here rather
 * than by http-cache-semantics, which gets several of these wrong for a shared cache: it reads Age and max-age with
 * parseInt ("1.5" → 1, "-5" → -5, "10, 20" → 10), Expires with Date.parse (accepts "0" and ISO dates), gives
 * proxy-revalidate zero freshness (it means must-revalidate, §5.2.2.8), and stores only the statuses it knows
 * (no 503 with max-age). Pure: `now` is passed in.
 */
import type { HeaderRecord } from '../core/headers.js'
import { deltaSeconds, type Directives } from './cache-control.js'
import { parseDateField } from './http-date.js'
import { isHeuristicallyCacheable } from './status.js'

export interface Lifetime {
  readonly seconds: number
  /** s-maxage, max-age or Expires was given (RFC 9111 §4.2.1), as opposed to a heuristic or nothing. */
  readonly explicit: boolean
}

/**
 * RFC 9111 §4.2.1: s-maxage (shared cache), then max-age, then Expires − Date; else a heuristic (§4.2.2) for the
 * heuristically cacheable statuses when the operator enabled one; else 0. A directive with a malformed argument
 * counts as absent. `useExpires` is false when a targeted field governs (RFC 9213 §2.2: Expires is then ignored).
 */
export function freshnessLifetime (
  directives: Directives, headers: HeaderRecord, status: number, now: number, heuristicFraction: number, useExpires: boolean
): Lifetime {
  const sMaxAge = deltaSeconds(directives, 's-maxage')
  if (sMaxAge !== undefined) return { seconds: sMaxAge, explicit: true }
  const maxAge = deltaSeconds(directives, 'max-age')
  if (maxAge !== undefined) return { seconds: maxAge, explicit: true }
  if (useExpires && headers.expires !== undefined) {
    // §5.3: an invalid Expires (or several of them) means "already expired".
    const expires = parseDateField(headers.expires, now) as number
    if (Number.isNaN(expires)) return { seconds: 0, explicit: true }
    return { seconds: Math.max(0, (expires - dateValue(headers, now)) / 1000), explicit: true }
  }
  if (heuristicFraction > 0 && isHeuristicallyCacheable(status)) {
    const lastModified = parseDateField(headers['last-modified'], now)
    const date = dateValue(headers, now)
    if (lastModified !== undefined && !Number.isNaN(lastModified) && lastModified < date) {
      return { seconds: ((date - lastModified) / 1000) * heuristicFraction, explicit: false }
    }
  }
  return { seconds: 0, explicit: false }
}

/** The origin's Date, or the time corral received the response when Date is absent or invalid (RFC 9110 §6.6.1). */
function dateValue (headers: HeaderRecord, now: number): number {
  const date = parseDateField(headers.date, now)
  return date === undefined || Number.isNaN(date) ? now : date
}

/** RFC 9111 §1.2.2 / §5.1: Age past 2^31 is taken as 2^31. */
const MAX_AGE_SECONDS = 2147483648

/**
 * The Age a response arrived with (§5.1: `Age = delta-seconds`), 0 when absent, or null when it is anything but
 * one non-negative integer (a list, two lines, a fraction, a sign, letters, parameters): then it is not trusted
 * and the response counts as stale (§4.2.3 cannot compute its age; §4.2.1 allows treating it as stale).
 *
 * corral takes the Age value alone as the initial age: apparent_age (now − Date) is left out on purpose, so a
 * skewed origin clock does not cut every lifetime short; corral sits next to its origin, and response_delay is the
 * fetch time, well under Age's one-second resolution.
 */
export function initialAge (headers: HeaderRecord): number | null {
  const value = headers.age
  if (value === undefined) return 0
  const text = Array.isArray(value) ? (value.length === 1 ? value[0] as string : '') : value
  if (!/^\d+$/.test(text)) return null
  return Math.min(Number(text), MAX_AGE_SECONDS)
}
