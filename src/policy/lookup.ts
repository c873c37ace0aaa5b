/**
 * policy/lookup: the one verdict on a lookup, from which the driver picks its next step (Varnish's vcl_hit / vcl_miss
 * and the busy object's waiting list, decided in one place).  [pure]
 */
import type { Usability } from './usable.js'

/**
 * - hit: a fresh entry answers.
 * - stale: a stale entry answers while one request refreshes it (stale-while-revalidate, grace).
 * - hit-for-pass: the URL's last answer could not be shared (coalesce/hit-for-pass.ts): to the origin alone.
 * - busy: another request is fetching this key: wait for its answer.
 * - miss: nothing usable, nobody fetching: lead the fetch.
 */
export type LookupVerdict = 'hit' | 'stale' | 'miss' | 'hit-for-pass' | 'busy'

/** Which keys a set holds: the hit-for-pass memory (by primary key), the flights under way (by key looked up). */
export interface KeySet {
  has (key: string): boolean
}

/**
 * `hitForPass` and `flights` are only asked when the entry is not usable, so a hit pays for neither lookup.
 */
export function decideLookup (usability: Usability, primaryKey: string, key: string, hitForPass: KeySet, flights: KeySet): LookupVerdict {
  if (usability === 'fresh') return 'hit'
  if (usability === 'stale') return 'stale'
  if (hitForPass.has(primaryKey)) return 'hit-for-pass'
  return flights.has(key) ? 'busy' : 'miss'
}
