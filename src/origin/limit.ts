import { OriginBusyError } from '../core/errors.js'

export interface OriginLimitOptions {
  /** Cap on concurrent origin requests; 0 means no cap (and, in adaptive mode, ADAPTIVE_DEFAULT_MAX). */
  readonly maxInFlight: number
  /** Requests that may wait for a slot once the cap is reached. */
  readonly queueSize: number
  readonly queueTimeoutMs: number
  /** The adaptiveConcurrency flag: let origin latency lower the cap. */
  readonly adaptive: boolean
}

interface Waiter {
  resolve: () => void
  reject: (err: Error) => void
  timer: ReturnType<typeof setTimeout>
}

/** Adaptive mode never goes below this, so a slow origin still gets some traffic and its latency is still measured. */
export const ADAPTIVE_MIN_LIMIT = 4
/** Ceiling of the adaptive limit when origin.maxInFlight is 0 (no configured cap). */
export const ADAPTIVE_DEFAULT_MAX = 1000

// setTimeout runs a longer delay after 1 ms: a queueTimeoutMs above it (the config has no maximum) would shed at once.
const MAX_TIMER_MS = 2 ** 31 - 1

// Gradient2 parameters (Netflix concurrency-limits, Gradient2Limit defaults, except the short average).
const TOLERANCE = 1.5
const SMOOTHING = 0.2
const LONG_WINDOW = 600
const SHORT_WINDOW = 10
const WARMUP_SAMPLES = 10

/**
 * Guards concurrent origin requests for one process: a fixed cap (origin.maxInFlight), or, with the
 * adaptiveConcurrency flag on, a cap that follows origin latency. Waiters are served first come, first served.
 *
 * Adaptive formula (after Gradient2): keep a long-term RTT average (≈600 samples, the origin's normal
 * latency) and a short-term one (≈10 samples, its latency now).
 *   gradient = clamp(TOLERANCE × long / short, 0.5, 1)
 *   limit    = (1 − SMOOTHING) × limit + SMOOTHING × (limit × gradient + √limit)
 * While the origin is as fast as usual, gradient is 1 and the limit grows by SMOOTHING × √limit per sample;
 * once latency exceeds 1.5× its norm, gradient < 1 and the limit shrinks, by at most 10% per sample, towards
 * 1 / (1 − gradient)² (4 at the floor gradient of 0.5). When latency falls back after a long overload
 * (long / short > 2), the long average is cut by 5% per sample so the limit recovers without waiting
 * for 600 samples. A slowdown that lasts for hundreds of samples becomes the new norm and the limit regrows:
 * the limiter reacts to change, not to absolute latency, and origin.maxInFlight stays the hard cap. Differences from Gradient2, on purpose: the short-term RTT is a 10-sample average, not
 * the raw sample, so one slow request does not cost 10% of the limit; the headroom is √limit (Gradient v1)
 * rather than a fixed 4, so a large limit regrows in proportion to its size; and only growth is skipped while less than half
 * the limit is in use (an idle limit proves nothing) — Gradient2 skips shrinking too, but our limit starts at
 * the ceiling, which traffic may never approach, and must still come down when latency rises.
 */
export class OriginLimiter {
  #options: OriginLimitOptions
  #inFlight = 0
  #estimate = Number.POSITIVE_INFINITY
  #limit = Number.POSITIVE_INFINITY
  readonly #queue = new Set<Waiter>()
  #longRtt = 0
  #shortRtt = 0
  #samples = 0

  constructor (options: OriginLimitOptions) {
    assertOptions(options)
    this.#options = options
    this.#resetLimit()
  }

  get inFlight (): number { return this.#inFlight }
  get queued (): number { return this.#queue.size }
  /** The cap in force (Infinity when uncapped). */
  get limit (): number { return this.#limit }
  /** Every slot taken and no room to wait: the shed stage turns non-critical requests to cache-only. */
  get saturated (): boolean {
    return this.#inFlight >= this.#limit && this.#queue.size >= this.#options.queueSize
  }

  /** Hot reload. A lower cap takes effect as requests finish; queued waiters are kept, even beyond a smaller queueSize. */
  update (options: OriginLimitOptions): void {
    assertOptions(options)
    const wasAdaptive = this.#options.adaptive
    this.#options = options
    if (options.adaptive && wasAdaptive) this.#clampEstimate()
    else this.#resetLimit()
    this.#drain()
  }

  /** Takes a slot if one is free; the sync fast path. */
  tryAcquire (): boolean {
    if (this.#inFlight >= this.#limit || this.#queue.size > 0) return false
    this.#inFlight++
    return true
  }

  /** Takes a slot, waiting for one up to queueTimeoutMs; rejects with OriginBusyError when the queue is full or the wait times out. */
  acquire (): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve()
    if (this.#queue.size >= this.#options.queueSize) return Promise.reject(new OriginBusyError())
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#queue.delete(waiter)
          reject(new OriginBusyError())
        }, Math.min(this.#options.queueTimeoutMs, MAX_TIMER_MS))
      }
      this.#queue.add(waiter)
    })
  }

  /** Gives a slot back. Pass the origin latency of a completed request so adaptive mode can learn from it. */
  release (latencyMs?: number): void {
    // Clamped rather than thrown: a double release is a bug elsewhere and must not take the request path down.
    if (this.#inFlight > 0) this.#inFlight--
    if (latencyMs !== undefined && this.#options.adaptive) this.#sample(latencyMs)
    this.#drain()
  }

  #drain (): void {
    for (const waiter of this.#queue) {
      if (this.#inFlight >= this.#limit) return
      this.#queue.delete(waiter)
      clearTimeout(waiter.timer)
      this.#inFlight++
      waiter.resolve()
    }
  }

  #ceiling (): number {
    return this.#options.maxInFlight === 0 ? ADAPTIVE_DEFAULT_MAX : this.#options.maxInFlight
  }

  #resetLimit (): void {
    this.#samples = 0
    if (this.#options.adaptive) {
      // Start at the ceiling: switching adaptive on must not throttle a healthy origin before latency says so.
      this.#estimate = this.#ceiling()
      this.#clampEstimate()
    } else {
      this.#estimate = this.#options.maxInFlight === 0 ? Number.POSITIVE_INFINITY : this.#options.maxInFlight
      this.#limit = this.#estimate
    }
  }

  #clampEstimate (): void {
    const ceiling = this.#ceiling()
    this.#estimate = Math.min(ceiling, Math.max(Math.min(ADAPTIVE_MIN_LIMIT, ceiling), this.#estimate))
    this.#limit = Math.floor(this.#estimate)
  }

  #sample (rttMs: number): void {
    const rtt = Math.max(rttMs, 0.001)
    this.#samples++
    if (this.#samples <= WARMUP_SAMPLES) {
      // Plain means while warming up, so the first sample does not stand for the origin's norm.
      this.#longRtt += (rtt - this.#longRtt) / this.#samples
      this.#shortRtt = this.#longRtt
      return
    }
    this.#longRtt += (rtt - this.#longRtt) * 2 / (LONG_WINDOW + 1)
    this.#shortRtt += (rtt - this.#shortRtt) * 2 / (SHORT_WINDOW + 1)
    if (this.#longRtt / this.#shortRtt > 2) this.#longRtt *= 0.95
    const gradient = Math.max(0.5, Math.min(1, TOLERANCE * this.#longRtt / this.#shortRtt))
    if (gradient >= 1 && this.#inFlight * 2 < this.#estimate) return
    const next = this.#estimate * gradient + Math.sqrt(this.#estimate)
    this.#estimate = (1 - SMOOTHING) * this.#estimate + SMOOTHING * next
    this.#clampEstimate()
  }
}

function assertOptions (options: OriginLimitOptions): void {
  for (const name of ['maxInFlight', 'queueSize', 'queueTimeoutMs'] as const) {
    const value = options[name]
    if (!Number.isInteger(value) || value < 0) throw new TypeError(`expected options.${name} to be an integer ≥ 0, got ${value}`)
  }
}
