/**
 * coalesce/miss: who goes to the origin, and what came of it. The driver's lookup verdict (policy/lookup.ts) picks the
 * road: lead the key's flight, wait on it, or go alone (hit-for-pass); a leader with a fleet takes the memcached lease
 * or waits for another process's fill; then fill (fetch → store). Every path ends
 * in a MissOutcome returned to the pipeline, which alone turns it into an answer (Varnish: the step returns an action
 * word and the driver switches on it). Stale-while-revalidate refreshes take the same road with nobody waiting.
 */
import type { Logger } from '../core/log.js'
import type { Metrics } from '../core/metrics.js'
import type { VaryIndex } from '../core/entry.js'
import { CorralError, OriginStatusError } from '../core/errors.js'
import { discard } from '../origin/body.js'
import { makeVariantKey } from '../key.js'
import { fill, makeOriginAsk, type FillContext, type FillResult, type OriginAsk } from '../fill.js'
import type { GrowingFill } from '../origin/growing-fill.js'
import type { FillRequest } from '../core/fill-request.js'
import type { MissNotes, MissOutcome, MissRoads } from './outcome.js'

export type { MissNotes, MissOutcome, MissRoads } from './outcome.js'
import type { FleetLease, FollowedFill } from './lease.js'
import { PASS_OUTCOME, RETRY_OUTCOME, type FlightOutcome, type SingleFlight } from './single-flight.js'
import type { HitForPass } from './hit-for-pass.js'
import { dropLocalCopy } from './drop-local-copy.js'

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

const PASS_HIT_FOR_PASS: MissOutcome = { kind: 'pass', hitForPass: true }
const PASS_BYPASS: MissOutcome = { kind: 'pass', hitForPass: false }
const RETRY_MISS: MissOutcome = { kind: 'retry' }

export class Coalescer implements MissRoads {
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

  /** Verdict `miss` (policy/lookup.ts): lead the key's flight and, with a fleet, take its lease or follow. */
  async lead (req: FillRequest, notes: MissNotes): Promise<MissOutcome> {
    const settle = this.#deps.flight.lead(req.key)
    if (settle === null) return RETRY_MISS
    return await this.#lead(req, notes, settle, 'leader')
  }

  /**
   * Verdict `busy`: wait for the leader's answer. `round` counts the waits behind a leader whose answer was made for
   * its own credentials (`retry`): the driver decides again once, then the request passes.
   */
  async wait (req: FillRequest, notes: MissNotes, round: number): Promise<MissOutcome> {
    const waiting = this.#deps.flight.wait(req.key)
    if (waiting === undefined) return RETRY_MISS
    notes.coalesced = true
    this.#deps.metrics.coalescedWaiters.inc()
    const outcome = await waiting
    switch (outcome.kind) {
      case 'entry': {
        // A leader's answer that varies is shared only with waiters asking for the same variant.
        const { entry } = outcome
        return this.#variantOf(req, outcome.vary) === entry.key ? { kind: 'entry', entry, revalidated: false, collapsed: true } : PASS_BYPASS
      }
      case 'growing': {
        const { growing } = outcome
        // A relay of an unstorable object keeps only a window: one that has moved past the start cannot be joined.
        if (this.#variantOf(req, growing.vary) !== growing.head.key || !growing.body.canJoin(0)) return PASS_BYPASS
        return { kind: 'streaming', growing, collapsed: true }
      }
      case 'pass':
        return PASS_HIT_FOR_PASS
      case 'retry':
        // Behind a new leader: a waiter with credentials of its own could only repeat what the last one got. The
        // others regroup while leaders keep turning out credentialed (another such request may lead the next round),
        // a bounded number of times: no request can send the anonymous ones to the origin one by one (issue 23).
        return req.credentialed || round >= MAX_REGROUPS ? PASS_BYPASS : RETRY_MISS
      case 'error':
        return outcome
    }
  }

  /** Verdict `hit-for-pass` for a GET: fetched alone, without flight or lease; a storable answer is still stored. */
  async alone (req: FillRequest, notes: MissNotes): Promise<MissOutcome> {
    return await this.#lead(req, notes, null, 'hit-for-pass')
  }

  /**
   * The key this request's variant has under the leader's Vary index: the key it looked up when the index is the one
   * its lookup found (the variant key is computed once, by the pipeline); made again only for a new index.
   */
  #variantOf (req: FillRequest, vary: VaryIndex | null): string {
    if (vary === null) return req.primaryKey
    if (vary === req.varyIndex) return req.key
    return makeVariantKey(req.primaryKey, vary.epoch, vary.varyHeaders, makeOriginAsk(req, this.#fill.fillHeaders).requestHeaders)
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
      if (outcome.kind === 'error') logger.warn({ ...line, code: outcome.error.code }, 'background refresh failed')
      else logger.debug(line, 'background refresh')
    }, (err: unknown) => this.#deps.logger.error({ err, key: req.key }, 'background refresh crashed'))
  }

  /**
   * Lead a key: with a fleet, take the lease or wait for another process's fill; then fill, and tell the waiters
   * (`settle`; null for a hit-for-pass URL, fetched without flight or lease) what they may do with the answer.
   */
  async #lead (req: FillRequest, notes: MissNotes, settle: ((outcome: FlightOutcome, open?: boolean) => void) | null, role: Role): Promise<MissOutcome> {
    let release: (() => void) | null = null
    let publish: FleetLease | null = null
    // Only the leader builds what the origin is sent: waiters never need it.
    const ask = makeOriginAsk(req, this.#fill.fillHeaders)
    const fleet = role === 'hit-for-pass' || role === 'bypass' ? null : this.#fleet
    if (fleet !== null) {
      const turn = await fleet.takeTurn(req.key, req.primaryKey, ask.requestHeaders, req.stale?.storedAt ?? 0, notes, role === 'leader')
      switch (turn.kind) {
        case 'entry':
          dropLocalCopy(this.#fill.store, turn.entry.key)
          // A fill found at a variant key comes back without its Vary index: the one the lookup found names it, and
          // waiters need it to recognise the entry as their variant (with null they would each go to the origin).
          settle?.({ kind: 'entry', entry: turn.entry, vary: turn.vary ?? req.varyIndex })
          notes.coalesced = true
          return { kind: 'entry', entry: turn.entry, revalidated: false, collapsed: true }
        case 'error':
          settle?.(turn)
          return turn
        case 'follow':
          // Another proxy's fill, arriving through memcached: this process's waiters read it too (fleet-follow.ts).
          notes.coalesced = true
          settle?.({ kind: 'growing', growing: turn.followed.growing }, true)
          this.#followed(req, turn.followed, settle)
          return { kind: 'streaming', growing: turn.followed.growing, collapsed: true }
        case 'lead':
          release = turn.release
          if (turn.publish) publish = fleet
      }
    }
    this.#deps.metrics.originRequests.labels(role === 'leader' ? (req.stale === undefined ? 'miss' : 'expired') : role === 'refresh' ? 'refresh' : 'pass').inc()
    let result: FillResult
    try {
      if (role === 'leader') {
        // A large answer streams to this leader and its waiters as it arrives; the rest of the fill goes on alone.
        const first = await fillOrGrowing(this.#fill, req, ask, settle)
        if (first.kind === 'growing') {
          publish?.publish(req.key, first.growing)
          notes.originStatus = first.growing.head.status
          notes.originMs = first.growing.originMs
          this.#finish(req, first.filling, settle, release, role)
          return { kind: 'streaming', growing: first.growing, collapsed: false }
        }
        result = first.result
      } else {
        result = await fill(this.#fill, req, ask)
      }
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
      case 'entry': return { kind: 'entry', entry: result.own, revalidated: result.revalidated, collapsed: false }
      case 'stream': return { kind: 'stream', response: result.response, head: result.head, reason: result.reason, hitForPass: role === 'hit-for-pass' }
      case 'error': return result
    }
  }

  /** The rest of a streaming fill: await the store write, close the flight (its waiters were answered), release the lease. */
  #finish (req: FillRequest, filling: Promise<FillResult>, settle: ((outcome: FlightOutcome) => void) | null, release: (() => void) | null, role: Role): void {
    filling.then(async (result) => {
      // Until the write lands, a request in this process joins the complete body rather than waiting on the lease.
      if (result.kind === 'entry') await result.written
      settle?.(this.#forWaiters(req, result, role))
      if (result.kind === 'error') this.#deps.logger.warn({ key: req.key, code: result.error.code }, 'streaming fill failed: its clients were cut off')
    }, (err: unknown) => {
      settle?.({ kind: 'error', error: toCorralError(err) })
      this.#deps.logger.error({ err, key: req.key }, 'streaming fill crashed')
    }).finally(() => release?.()).catch(() => {})
  }

  /** The rest of a followed fill: once whole, later requests here get the entry; a failure, the error its clients saw. */
  #followed (req: FillRequest, followed: FollowedFill, settle: ((outcome: FlightOutcome) => void) | null): void {
    const { head, vary } = followed.growing
    followed.done.then((result) => {
      if (!(result instanceof CorralError)) {
        dropLocalCopy(this.#fill.store, head.key)
        settle?.({ kind: 'entry', entry: result, vary })
        return
      }
      settle?.({ kind: 'error', error: result })
      this.#deps.logger.warn({ key: req.key, code: result.code, reason: result.message }, 'fill followed from another proxy failed: its clients were cut off')
    }, noop)
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
        if (role === 'leader' || role === 'hit-for-pass') hitForPass.remember(req.primaryKey, result.shared === true)
        return PASS_OUTCOME
      case 'error':
        return { kind: 'error', error: result.error }
    }
  }
}

type FirstOfFill =
  | { readonly kind: 'done', readonly result: FillResult }
  | { readonly kind: 'growing', readonly growing: GrowingFill, readonly filling: Promise<FillResult> }

/**
 * A fill, answered at its headers when it streams (its waiters then read the growing body, and the flight stays open
 * for late arrivals), else at its end as before.
 */
async function fillOrGrowing (
  ctx: FillContext, req: FillRequest, ask: OriginAsk, settle: ((outcome: FlightOutcome, open?: boolean) => void) | null
): Promise<FirstOfFill> {
  let announced: (growing: GrowingFill) => void = () => {}
  const growing = new Promise<GrowingFill>((resolve) => { announced = resolve })
  const filling = fill(ctx, req, ask, (g) => {
    settle?.({ kind: 'growing', growing: g }, true)
    announced(g)
  })
  return await Promise.race([
    filling.then((result): FirstOfFill => ({ kind: 'done', result })),
    growing.then((g): FirstOfFill => ({ kind: 'growing', growing: g, filling }))
  ])
}

function noop (): void {}

function toCorralError (err: unknown): CorralError {
  return err instanceof CorralError ? err : new CorralError('CORRAL_ERR_INTERNAL', 'internal error', 500, { cause: err })
}
