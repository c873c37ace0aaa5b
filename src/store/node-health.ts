/**
 * Whether a memcached node is worth asking: the up/down state machine behind MemcachedStore, without sockets or
 * timers (the store reports each operation's outcome and passes the time in), so every rule is unit-tested.
 *
 * A refused or reset connection marks a node down at once; so do TIMEOUTS_TO_MARK_DOWN timeouts in a row (one the
 * node answered something after does not count, nor one whose timer ran late on a stalled event loop: isLoopStall),
 * and so does a failed probe. While down every operation is skipped;
 * once `retryDownMs` is over, one operation is the probe (the others keep skipping until it settles), so a dead node
 * costs one failed operation per `retryDownMs`, not one per request. Only the first mark after being up and the first
 * answer after being down are transitions: the outage is logged once per node each way.
 */

/**
 * A node is marked down after this many timeouts in a row (a refused or reset connection marks it down at once).
 * Measured: a burst of 250 concurrent requests on a just-started process stalls the event loop past 50 ms, and a
 * single late timer marked a healthy node down, which turned fleet leases off for retryDownMs.
 */
export const TIMEOUTS_TO_MARK_DOWN = 3

/**
 * What one operation came to: an answer (a reply or a server error alike), our deadline passing, our deadline passing
 * on a stalled event loop (`stalled`: no evidence either way), or a transport error.
 */
export type OperationOutcome = 'answered' | 'timed-out' | 'stalled' | 'failed'

/** A deadline timer late on a stalled loop (core/loop-stall.ts): its timeout is `stalled`, not evidence. */
export { isLoopStall } from '../core/loop-stall.js'

/** 'send': up; 'probe': down, its time is over and this caller tests it; 'skip': down (or another caller probes). */
export type Admission = 'send' | 'probe' | 'skip'

export type NodeTransition = 'down' | 'up'

/** Taken as an operation starts, handed back when it settles. */
export interface OperationStart {
  readonly probe: boolean
  readonly answersBefore: number
}

export interface Settled {
  /** The node is marked down now: the caller replaces its client (memcached.ts, Node.client). */
  readonly markedDown: boolean
  /** Set when the node changed state: 'down' on the first mark after being up, 'up' on the first answer after. */
  readonly transition: NodeTransition | null
}

export interface NodeState {
  readonly up: boolean
  /** Epoch ms of the first mark after being up; null while up. */
  readonly downSince: number | null
  /** Failed or timed-out operations since the store started. */
  readonly errors: number
}

const NOTHING: Settled = { markedDown: false, transition: null }

export class NodeHealth {
  readonly #retryDownMs: number
  /** Epoch ms before which the node is skipped (0 = up). */
  #downUntil = 0
  #downSince: number | null = null
  /** One operation is testing a node whose down time ran out; the others keep skipping until it settles. */
  #probing = false
  /** Timeouts in a row: one late answer is usually our own event loop stalled, not the node. */
  #timeouts = 0
  /**
   * Answers received so far. An operation that times out although the node answered something after it started was
   * late because of us (a stalled event loop, a long queue), so it is not counted.
   */
  #answers = 0
  #errors = 0

  constructor (retryDownMs: number) {
    this.#retryDownMs = retryDownMs
  }

  /** An operation is out as this node's probe: its outcome decides what comes next. */
  get isProbing (): boolean {
    return this.#probing
  }

  get isDown (): boolean {
    return this.#downUntil !== 0
  }

  admit (now: number): Admission {
    if (this.#downUntil === 0) return 'send'
    if (this.#probing || now < this.#downUntil) return 'skip'
    this.#probing = true
    return 'probe'
  }

  /** Call as an operation is sent (after `admit`). */
  start (): OperationStart {
    return { probe: this.#downUntil !== 0, answersBefore: this.#answers }
  }

  /** Counts a failure for /flags; every one counts, also those of a client replaced since they started. */
  countError (): void {
    this.#errors++
  }

  /** Judges one settled operation of the node's current client. */
  settle (outcome: OperationOutcome, start: OperationStart, now: number): Settled {
    this.#probing = false
    // Neither an answer nor a failure: the run of timeouts is neither reset nor extended, and a probe is simply due again.
    if (outcome === 'stalled') return NOTHING
    if (outcome === 'answered') {
      this.#answers++
      this.#timeouts = 0
      this.#downUntil = 0
      if (this.#downSince === null) return NOTHING
      this.#downSince = null
      return { markedDown: false, transition: 'up' }
    }
    // A probe that fails in any way keeps the node down; a refused or reset connection marks it down at once.
    if (outcome === 'timed-out' && !start.probe) {
      // The node answered something after this operation started: it is alive, the delay was ours.
      if (this.#answers !== start.answersBefore) return NOTHING
      if (++this.#timeouts < TIMEOUTS_TO_MARK_DOWN) return NOTHING
    }
    this.#timeouts = 0
    this.#downUntil = now + this.#retryDownMs
    if (this.#downSince !== null) return { markedDown: true, transition: null }
    this.#downSince = now
    return { markedDown: true, transition: 'down' }
  }

  state (): NodeState {
    return { up: this.#downUntil === 0, downSince: this.#downSince, errors: this.#errors }
  }
}
