/**
 * coalesce/single-flight: one origin fetch per key in this process. The first request for a key leads; later ones
 * wait for the leader's outcome with their own deadline, shorter than their patience (docs/architecture.md, lessons).
 *
 * The leader settles the flight as soon as it knows what waiters can use: a storable entry (after its body is
 * read), or "pass" the moment the response headers say it is not shareable, so waiters fetch for themselves at
 * once instead of queueing (nginx's cache lock makes them wait 5 s).  [in-process state, no I/O]
 */
import type { StoredEntry, VaryIndex } from '../core/entry.js'
import { WaiterTimeoutError, type CorralError } from '../core/errors.js'
import type { GrowingFill } from '../origin/growing-fill.js'

export type FlightOutcome =
  /** A response waiters may share. `vary` is set when it came with Vary: waiters check their own variant. */
  | { readonly kind: 'entry', readonly entry: StoredEntry, readonly vary: VaryIndex | null }
  /**
   * A storable answer streaming while it arrives (growing-fill.ts): waiters read its body as it grows. The flight
   * stays open until the fill is stored, so a request arriving meanwhile joins the same body, not a second fetch.
   */
  | { readonly kind: 'growing', readonly growing: GrowingFill }
  /** Not shareable for anyone (no-store, private, Set-Cookie, too large…): each waiter asks the origin itself. */
  | { readonly kind: 'pass' }
  /**
   * Not shareable, but perhaps only because of the leader's own request (it carried a Cookie or Authorization): the
   * answer says nothing about what an anonymous request would get. Waiters coalesce again behind a new leader.
   */
  | { readonly kind: 'retry' }
  /** The fetch failed: waiters fail with it (or serve stale, per stale-if-error). */
  | { readonly kind: 'error', readonly error: CorralError }

interface Flight {
  readonly promise: Promise<FlightOutcome>
  resolve: (outcome: FlightOutcome) => void
  readonly timer: NodeJS.Timeout
}

export const PASS_OUTCOME: FlightOutcome = { kind: 'pass' }
export const RETRY_OUTCOME: FlightOutcome = { kind: 'retry' }

export class SingleFlight {
  readonly #flights = new Map<string, Flight>()
  /** A waiter's deadline; set again on config reload. */
  waitTimeoutMs: number

  constructor (waitTimeoutMs: number) {
    this.waitTimeoutMs = waitTimeoutMs
  }

  /**
   * Become the leader for `key`, or null when a flight is already under way (then `wait`). The settle function ends
   * the flight; with `open` it answers the waiters (those to come too) but keeps the key's flight until settled again.
   */
  lead (key: string): ((outcome: FlightOutcome, open?: boolean) => void) | null {
    if (this.#flights.has(key)) return null
    let resolve!: (outcome: FlightOutcome) => void
    const promise = new Promise<FlightOutcome>((_resolve) => { resolve = _resolve })
    // One deadline per flight, not one timer per waiter: 500 waiters cost one timer. A flight that outlives the
    // origin timeout releases its waiters with 504 and leaves the key free for a new leader.
    const timer = setTimeout(() => this.#settle(key, flight, { kind: 'error', error: new WaiterTimeoutError() }), this.waitTimeoutMs)
    timer.unref()
    const flight: Flight = { promise, resolve, timer }
    this.#flights.set(key, flight)
    return (outcome, open = false) => this.#settle(key, flight, outcome, open)
  }

  /** Is a fetch for `key` under way (the lookup verdict `busy`)? */
  has (key: string): boolean {
    return this.#flights.has(key)
  }

  /** Wait for the flight on `key`; undefined when there is none. */
  wait (key: string): Promise<FlightOutcome> | undefined {
    const flight = this.#flights.get(key)
    if (flight === undefined) return undefined
    return flight.promise
  }

  #settle (key: string, flight: Flight, outcome: FlightOutcome, open = false): void {
    clearTimeout(flight.timer)
    // Only remove our own flight: after a timeout a new leader may already own the key.
    if (!open && this.#flights.get(key) === flight) this.#flights.delete(key)
    // A promise settles once: after an open settle, the closing one only removes the flight.
    flight.resolve(outcome)
  }
}
