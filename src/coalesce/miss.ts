/**
 * coalesce/miss: who goes to the origin, and what came of it. A miss joins the key's flight or leads it; a leader with
 * a fleet takes the memcached lease or waits for another process's fill; then fill (fetch → store). Every path ends
 * in a MissOutcome returned to the pipeline, which alone turns it into an answer (Varnish: the step returns an action
 * word and the driver switches on it). Stale-while-revalidate refreshes take the same road with nobody waiting.
 */
import type { Logger } from '../core/log.js'
import type { Metrics } from '../core/metrics.js'
import type { StoredEntry } from '../core/entry.js'
import type { LeaseStep } from '../core/trace.js'
import { CorralError, OriginStatusError, WaiterTimeoutError } from '../core/errors.js'
import { discard, type OriginResponse } from '../origin/fetch.js'
import { makeVariantKey } from '../key.js'
import { fill, type FillContext, type FillRequest, type FillResult, type StreamReason } from '../fill.js'
import type { FleetLease } from './lease.js'
import { PASS_OUTCOME, RETRY_OUTCOME, type FlightOutcome, type SingleFlight } from './single-flight.js'
import type { HitForPass } from './hit-for-pass.js'
import { dropLocalCopy } from './drop-local-copy.js'

/** What happened to a miss. The pipeline's one switch over it picks X-Cache, Cache-Status and the delivery. */
export type MissOutcome =
  /** This request's own fill: stored, or revalidated by a 304 (`revalidated`). */
  | { readonly kind: 'fetched', readonly entry: StoredEntry, readonly revalidated: boolean }
  /** Another request's fill, in this process or (through the lease) in another one. */
  | { readonly kind: 'collapsed', readonly entry: StoredEntry }
  /** Not stored: relay this origin response. `hitForPass`: the URL is remembered as such (fetched alone). */
  | { readonly kind: 'stream', readonly response: OriginResponse, readonly head: readonly Buffer[] | null, readonly reason: StreamReason, readonly hitForPass: boolean }
  /**
   * Ask the origin as a pass: a HEAD for a hit-for-pass URL (no body to read for nothing), or a waiter whose leader's
   * answer it cannot share (`bypass`: another variant, or an answer made for the leader's own credentials).
   */
  | { readonly kind: 'pass', readonly detail: 'hit-for-pass' | 'bypass' }
  /** No answer: the origin failed, timed out or is saturated, or the wait for another fill ran out. */
  | { readonly kind: 'failed', readonly error: CorralError }

/** What the coalescer notes of a miss for the trace and the access line (Trace has these fields). */
export interface MissNotes {
  lease: LeaseStep
  coalesced: boolean
  originStatus: number
  originMs: number
}

export interface CoalescerDeps {
  readonly flight: SingleFlight
  readonly hitForPass: HitForPass
  readonly metrics: Metrics
  readonly logger: Logger
}

/**
 * leader: of a flight others may wait on; refresh: a background one nobody waits on; hit-for-pass: alone, for a URL
 * remembered as uncacheable; bypass: alone, for a request that may not share (Authorization).
 */
type Role = 'leader' | 'refresh' | 'hit-for-pass' | 'bypass'

/** Rounds a waiter regroups behind new leaders whose answers were made for their own credentials. */
const MAX_REGROUPS = 4

const PASS_HIT_FOR_PASS: MissOutcome = { kind: 'pass', detail: 'hit-for-pass' }
const PASS_BYPASS: MissOutcome = { kind: 'pass', detail: 'bypass' }

export class Coalescer {
  readonly #deps: CoalescerDeps
  #fill: FillContext
  #fleet: FleetLease | null

  constructor (deps: CoalescerDeps, fillContext: FillContext, fleet: FleetLease | null) {
    this.#deps = deps
    this.#fill = fillContext
    this.#fleet = fleet
  }

  /** Reload or a new cache: the next miss fills with these; misses under way finish with what they started with. */
  use (fillContext: FillContext, fleet: FleetLease | null): void {
    this.#fill = fillContext
    this.#fleet = fleet
  }

  /** Miss or expired: join the flight for this key, or lead it; a hit-for-pass URL goes alone. */
  async miss (req: FillRequest, notes: MissNotes, isHead: boolean): Promise<MissOutcome> {
    const { flight, hitForPass, metrics } = this.#deps
    if (hitForPass.has(req.primaryKey)) return isHead ? PASS_HIT_FOR_PASS : await this.#lead(req, notes, null, 'hit-for-pass')
    for (let round = 0; ; round++) {
      const settle = flight.lead(req.key)
      if (settle !== null) return await this.#lead(req, notes, settle, 'leader')
      const waiting = flight.wait(req.key) as Promise<FlightOutcome>
      notes.coalesced = true
      metrics.coalescedWaiters.inc()
      const outcome = await waiting
      switch (outcome.kind) {
        case 'entry': {
          // A leader's answer that varies is shared only with waiters asking for the same variant.
          const { entry, vary } = outcome
          const expected = vary === null ? req.primaryKey : makeVariantKey(req.primaryKey, vary.epoch, vary.varyHeaders, req.requestHeaders)
          return expected === entry.key ? { kind: 'collapsed', entry } : PASS_BYPASS
        }
        case 'pass':
          return PASS_HIT_FOR_PASS
        case 'retry':
          // Behind a new leader: a waiter with credentials of its own could only repeat what the last one got. The
          // others regroup while leaders keep turning out credentialed (another such request may lead the next round),
          // a bounded number of times: no request can send the anonymous ones to the origin one by one (issue 23).
          if (req.credentialed || round >= MAX_REGROUPS) return PASS_BYPASS
          continue
        case 'error':
          return { kind: 'failed', error: outcome.error }
      }
    }
  }

  /**
   * A request that may not share (it carries Authorization): its own fill, without flight or lease, so nobody waits on
   * a credentialed answer; stored when the answer allows it (RFC 9111 §3.5), and it leaves no hit-for-pass memory.
   */
  async bypass (req: FillRequest, notes: MissNotes): Promise<MissOutcome> {
    return await this.#lead(req, notes, null, 'bypass')
  }

  /** Stale-while-revalidate: one refresh per key (per fleet, with leases), stored; nobody waits on it. */
  refresh (req: FillRequest): void {
    const settle = this.#deps.flight.lead(req.key)
    if (settle === null) return
    const notes: MissNotes = { lease: null, coalesced: false, originStatus: 0, originMs: 0 }
    this.#lead(req, notes, settle, 'refresh').then((outcome) => {
      if (outcome.kind === 'stream') discard(outcome.response.body)
      const { logger } = this.#deps
      const line = { key: req.key, outcome: outcome.kind, status: notes.originStatus, originMs: Math.round(notes.originMs), lease: notes.lease }
      if (outcome.kind === 'failed') logger.warn({ ...line, code: outcome.error.code }, 'background refresh failed')
      else logger.debug(line, 'background refresh')
    }, (err: unknown) => this.#deps.logger.error({ err, key: req.key }, 'background refresh crashed'))
  }

  /**
   * Lead a key: with a fleet, take the lease or wait for another process's fill; then fill, and tell the waiters
   * (`settle`; null for a hit-for-pass URL, fetched without flight or lease) what they may do with the answer.
   */
  async #lead (req: FillRequest, notes: MissNotes, settle: ((outcome: FlightOutcome) => void) | null, role: Role): Promise<MissOutcome> {
    let release: (() => void) | null = null
    const fleet = role === 'hit-for-pass' || role === 'bypass' ? null : this.#fleet
    if (fleet !== null) {
      const turn = await fleet.takeTurn(req.key, req.primaryKey, req.requestHeaders, req.stale?.storedAt ?? 0, notes)
      switch (turn.kind) {
        case 'filled':
          dropLocalCopy(this.#fill.store, turn.entry.key)
          // A fill found at a variant key comes back without its Vary index: the one the lookup found names it, and
          // waiters need it to recognise the entry as their variant (with null they would each go to the origin).
          settle?.({ kind: 'entry', entry: turn.entry, vary: turn.vary ?? req.varyIndex })
          notes.coalesced = true
          return { kind: 'collapsed', entry: turn.entry }
        case 'timeout': {
          const error = new WaiterTimeoutError()
          settle?.({ kind: 'error', error })
          return { kind: 'failed', error }
        }
        case 'lead':
          release = turn.release
      }
    }
    this.#deps.metrics.originRequests.labels(role === 'leader' ? (req.stale === undefined ? 'miss' : 'expired') : role === 'refresh' ? 'refresh' : 'pass').inc()
    let result: FillResult
    try {
      result = await fill(this.#fill, req)
    } catch (err) {
      // Waiters must never be left to their deadline by a failure in this process.
      settle?.({ kind: 'error', error: toCorralError(err) })
      release?.()
      throw err
    }
    if (result.origin !== null) {
      notes.originStatus = result.origin.status
      notes.originMs = result.origin.ms
    }
    // Decided even with nobody to tell (a hit-for-pass URL fetched alone): it also keeps the hit-for-pass memory.
    const forWaiters = this.#forWaiters(req, result, role)
    settle?.(forWaiters)
    // Waiters have the entry already; the leader answers once the store write has landed, and the lease is held until
    // then: a request on another proxy right after this answer, or a follower polling memcached, must find the fill
    // (not a miss and a free lease, which would cost the origin a second fetch). `written` never rejects.
    if (result.kind === 'entry') await result.written
    release?.()
    switch (result.kind) {
      case 'entry': return { kind: 'fetched', entry: result.own, revalidated: result.revalidated }
      case 'stream': return { kind: 'stream', response: result.response, head: result.head, reason: result.reason, hitForPass: role === 'hit-for-pass' }
      case 'error': return { kind: 'failed', error: result.error }
    }
  }

  /**
   * What the waiters of a fill may do with its answer, and the hit-for-pass memory it leaves. The memory is set only by
   * an answer that no requester could share: one made for a request with a Cookie or Authorization says nothing about
   * anyone else's (Varnish's hit-for-pass poisoning), so its waiters coalesce again instead, and a background refresh
   * never sets it.
   */
  #forWaiters (req: FillRequest, result: FillResult, role: Role): FlightOutcome {
    const { hitForPass } = this.#deps
    switch (result.kind) {
      case 'entry':
        if (!result.shareable) return PASS_OUTCOME
        hitForPass.forget(req.primaryKey)
        return { kind: 'entry', entry: result.entry, vary: result.vary }
      case 'stream':
        // An origin in trouble: waiters get its status (or a stale copy), not a request each to the failing origin.
        if (result.reason === 'error-status') return { kind: 'error', error: new OriginStatusError(result.response.status) }
        if (req.credentialed && result.reason !== 'too-large') return RETRY_OUTCOME
        if (role === 'leader' || role === 'hit-for-pass') hitForPass.remember(req.primaryKey)
        return PASS_OUTCOME
      case 'error':
        return { kind: 'error', error: result.error }
    }
  }
}

function toCorralError (err: unknown): CorralError {
  return err instanceof CorralError ? err : new CorralError('CORRAL_ERR_INTERNAL', 'internal error', 500, { cause: err })
}
