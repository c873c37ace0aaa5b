/**
 * coalesce/outcome: the words of the miss road (what happened to a miss, what the coalescer notes of it) and the roads
 * the driver may send a request down. Types only: the driver's records name them without importing the coalescer and
 * the fill behind it.
 */
import type { StoredEntry } from '../core/entry.js'
import type { CorralError } from '../core/errors.js'
import type { FillRequest } from '../core/fill-request.js'
import type { LeaseStep } from '../core/trace.js'
import type { OriginResponse } from '../origin/types.js'
import type { StreamReason } from '../policy/storable.js'

/**
 * What happened to a miss, in the words every stage below the driver uses (fill, single-flight, lease, pass): entry,
 * stream, pass, error. The pipeline's one switch over it picks X-Cache, Cache-Status and the delivery.
 */
export type MissOutcome =
  /** An entry: this request's own fill (`revalidated` by a 304), or another's (`collapsed`), here or in the fleet. */
  | { readonly kind: 'entry', readonly entry: StoredEntry, readonly revalidated: boolean, readonly collapsed: boolean }
  /** Not stored: relay this origin response. `hitForPass`: the URL is remembered as such (fetched alone). */
  | { readonly kind: 'stream', readonly response: OriginResponse, readonly head: readonly Buffer[] | null, readonly reason: StreamReason, readonly hitForPass: boolean }
  /**
   * Ask the origin as a pass: a HEAD for a hit-for-pass URL (no body to read for nothing), or a waiter whose leader's
   * answer it cannot share (not hit-for-pass: another variant, or an answer made for the leader's own credentials).
   */
  | { readonly kind: 'pass', readonly hitForPass: boolean }
  /** No answer: the origin failed, timed out or is saturated, or the wait for another fill ran out. */
  | { readonly kind: 'error', readonly error: CorralError }
  /** The flight changed hands before this request joined it: the driver decides its lookup verdict again. */
  | { readonly kind: 'retry' }

/** What the coalescer notes of a miss; the driver copies them into the trace (steps/miss.ts). */
export interface MissNotes {
  lease: LeaseStep
  coalesced: boolean
  originStatus: number
  originMs: number
}

/** The roads of a miss (coalesce/miss.ts Coalescer): the driver's lookup verdict picks one. */
export interface MissRoads {
  /** Lead the key's flight (and, with a fleet, take the lease): the one fill others wait on. */
  lead: (req: FillRequest, notes: MissNotes) => Promise<MissOutcome>
  /** Wait on the key's flight; `round` counts the times the flight changed hands under this request. */
  wait: (req: FillRequest, notes: MissNotes, round: number) => Promise<MissOutcome>
  /** A hit-for-pass URL: fetched alone, without flight or lease. */
  alone: (req: FillRequest, notes: MissNotes) => Promise<MissOutcome>
  /** An Authorization request: a fill of its own, stored for others only when the answer allows it. */
  bypass: (req: FillRequest, notes: MissNotes) => Promise<MissOutcome>
  /** A stale-while-revalidate refresh nobody waits on. */
  refresh: (req: FillRequest) => void
}
