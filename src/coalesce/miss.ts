/**
 * coalesce/miss: who goes to the origin. A miss or an expired entry joins the key's flight or leads it; the leader,
 * with a fleet, takes the memcached lease or waits for another process's fill; then fill (fetch → store), and the
 * answer goes back to the pipeline. Stale-while-revalidate refreshes take the same road in the background.
 */
import { performance } from 'node:perf_hooks'
import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import type { Metrics } from '../core/metrics.js'
import type { StoredEntry, VaryIndex } from '../store/types.js'
import type { RequestFacts } from '../policy/storable.js'
import { fillUrl, type Answers, type Exchange } from '../exchange.js'
import type { FleetLease } from './lease.js'
import type { FlightOutcome, SingleFlight } from './single-flight.js'
import { fill, type FillContext, type FillRequest, type FillResult } from '../fill.js'
import { abandon, discard } from '../origin/fetch.js'
import { makeVariantKey, normalizeHost } from '../key.js'
import { mayServeOnError, ttlSeconds } from '../policy/usable.js'
import { makeOriginRequestHeaders, normalizeAcceptEncoding } from '../core/headers.js'
import { CACHE_STATUS, staleCacheStatus } from '../deliver.js'
import { CorralError, WaiterTimeoutError } from '../core/errors.js'

/** What coalescing reads from the pipeline; functions, because a reload swaps the cache and the fill settings. */
export interface CoalesceContext {
  readonly flight: SingleFlight
  readonly metrics: Metrics
  readonly logger: Logger
  readonly clock: Clock
  fillContext (): FillContext
  fleet (): FleetLease | null
  /** Was this URL's last answer uncacheable? Then its misses go to the origin alone, uncoalesced (hit-for-miss). */
  isRememberedPass (primaryKey: string): boolean
}

const NO_FLIGHT = (): void => {}

/** Request fields never forwarded on a fill: the stored response must be the full, unconditional one. */
const FILL_OVERRIDES_BASE = { 'if-none-match': null, 'if-modified-since': null, 'if-match': null, 'if-unmodified-since': null, 'if-range': null, range: null }

export class Coalescer {
  readonly #ctx: CoalesceContext
  readonly #answers: Answers

  constructor (ctx: CoalesceContext, answers: Answers) {
    this.#ctx = ctx
    this.#answers = answers
  }

  /** Miss or expired: join the flight for this key, or lead it; alone, for a URL remembered as uncacheable. */
  miss (ex: Exchange, key: string, varyIndex: VaryIndex | null, stale: StoredEntry | undefined): void {
    if (this.#ctx.isRememberedPass(ex.primaryKey)) {
      // A fill asks for GET and reads the body; a HEAD for a URL whose answer will not be stored asks the origin
      // for HEAD, and no body comes at all.
      if (ex.isHead) return this.#answers.pass(ex, CACHE_STATUS.hitForPass)
      this.#lead(ex, key, varyIndex, stale, NO_FLIGHT, 'alone').catch((err: unknown) => this.#answers.fail(ex, err))
      return
    }
    const waiting = this.#ctx.flight.wait(key)
    if (waiting !== undefined) {
      ex.trace.coalesced = true
      this.#ctx.metrics.coalescedWaiters.inc()
      waiting.then((outcome) => this.#onWaited(ex, stale, outcome), (err: unknown) => this.#answers.fail(ex, err))
      return
    }
    const settle = this.#ctx.flight.lead(key) as (outcome: FlightOutcome) => void
    this.#lead(ex, key, varyIndex, stale, settle, 'leader').catch((err: unknown) => this.#answers.fail(ex, err))
  }

  /**
   * The leader of a key in this process: with a fleet, take the lease or wait for another process's fill; then fetch
   * and store. `background`: a stale-while-revalidate refresh, nobody is waiting on the answer. `alone`: a URL
   * remembered as uncacheable, fetched without flight or lease (a storable answer is still stored).
   */
  async #lead (
    ex: Exchange, key: string, varyIndex: VaryIndex | null, stale: StoredEntry | undefined,
    settle: (outcome: FlightOutcome) => void, role: 'leader' | 'background' | 'alone'
  ): Promise<void> {
    const background = role === 'background'
    let release: (() => void) | null = null
    const fleet = role === 'alone' ? null : this.#ctx.fleet()
    if (fleet !== null) {
      const turn = await fleet.takeTurn(key, ex.primaryKey, ex.req.headers, stale?.storedAt ?? 0, ex.trace)
      switch (turn.kind) {
        case 'filled':
          // A fill found at a variant key comes back without its Vary index: the one the lookup found names it, and
          // waiters need it to recognise the entry as their variant (with null they would each go to the origin).
          settle({ kind: 'entry', entry: turn.entry, vary: turn.vary ?? varyIndex })
          if (background) return
          ex.trace.coalesced = true
          return this.#answers.serve(ex, turn.entry, this.#ctx.clock.now(), 'HIT', CACHE_STATUS.collapsed)
        case 'timeout': {
          const error = new WaiterTimeoutError()
          settle({ kind: 'error', error })
          if (background) return
          return this.#answers.originFailed(ex, stale, error)
        }
        case 'lead':
          release = turn.release
      }
    }
    this.#ctx.metrics.originRequests.labels(background ? 'refresh' : role === 'alone' ? 'pass' : stale === undefined ? 'miss' : 'expired').inc()
    const started = performance.now()
    let result: FillResult
    try {
      result = await fill(this.#ctx.fillContext(), this.#fillRequest(ex, varyIndex, stale, !background), settle)
    } catch (err) {
      // Waiters must never be left to their deadline by a failure in this process.
      settle({ kind: 'error', error: toCorralError(err) })
      throw err
    } finally {
      release?.()
    }
    ex.trace.originMs = performance.now() - started
    if (!background) {
      try {
        return this.#onFilled(ex, stale, result, role === 'alone')
      } catch (err) {
        // A body nobody took holds an origin slot (fetch.ts) until it is destroyed.
        if (result.kind === 'stream') abandon(result.response.body)
        throw err
      }
    }
    if (result.kind === 'stream') discard(result.response.body)
    else if (result.kind === 'error') this.#ctx.logger.warn({ key, code: result.error.code }, 'background refresh failed')
  }

  #fillRequest (ex: Exchange, varyIndex: VaryIndex | null, stale: StoredEntry | undefined, rememberUncacheable: boolean): FillRequest {
    const { req } = ex
    // The origin is asked for the host the key names (case, `:80` and a trailing dot are the client's spelling):
    // what is stored under the key is the answer for that spelling, whichever spelling this client used.
    const host = req.headers.host === undefined ? null : normalizeHost(req.headers.host)
    const originHeaders = makeOriginRequestHeaders(req.headers, req.socket.remoteAddress, 'http', {
      ...FILL_OVERRIDES_BASE,
      ...(host === null ? null : { host, 'x-forwarded-host': host }),
      // The origin sees the same normalised value the variant is keyed by.
      'accept-encoding': req.headers['accept-encoding'] === undefined ? null : normalizeAcceptEncoding(req.headers['accept-encoding'])
    })
    const url = fillUrl(ex)
    const facts: RequestFacts = { method: 'GET', url, headers: req.headers }
    return { facts, path: url, originHeaders, primaryKey: ex.primaryKey, varyIndex, staleEntry: stale, rememberUncacheable, group: ex.route.origin }
  }

  #onFilled (ex: Exchange, stale: StoredEntry | undefined, result: FillResult, alone: boolean): void {
    const now = this.#ctx.clock.now()
    switch (result.kind) {
      case 'stored':
        ex.trace.originStatus = result.revalidated ? 304 : result.entry.status
        if (result.revalidated) return this.#answers.serve(ex, result.entry, now, 'REVALIDATED', CACHE_STATUS.revalidated)
        return this.#answers.serve(ex, result.entry, now, 'MISS', stale === undefined ? CACHE_STATUS.missStored : CACHE_STATUS.refetched)
      case 'stream':
        ex.trace.originStatus = result.response.status
        if (result.reason === 'error-status' && stale !== undefined && mayServeOnError(stale, now)) {
          discard(result.response.body)
          return this.#answers.serve(ex, stale, now, 'STALE', staleCacheStatus(ttlSeconds(stale, now), 'stale-if-error'))
        }
        if (alone) return this.#answers.stream(ex, result, 'PASS', CACHE_STATUS.hitForPass)
        return this.#answers.stream(ex, result, 'MISS', `${CACHE_STATUS.miss}; detail=${result.reason}`)
      case 'error':
        return this.#answers.originFailed(ex, stale, result.error)
    }
  }

  /** A waiter's turn: share the leader's entry if it is this request's variant, else fetch alone. */
  #onWaited (ex: Exchange, stale: StoredEntry | undefined, outcome: FlightOutcome): void {
    switch (outcome.kind) {
      case 'entry': {
        const { entry, vary } = outcome
        const expected = vary === null ? ex.primaryKey : makeVariantKey(ex.primaryKey, vary.epoch, vary.varyHeaders, ex.req.headers)
        if (expected === entry.key) return this.#answers.serve(ex, entry, this.#ctx.clock.now(), 'HIT', CACHE_STATUS.collapsed)
        return this.#answers.pass(ex, CACHE_STATUS.bypass)
      }
      case 'pass':
        return this.#answers.pass(ex, CACHE_STATUS.hitForPass)
      case 'error':
        return this.#answers.originFailed(ex, stale, outcome.error)
    }
  }

  /** Stale-while-revalidate: one refresh per key (per fleet, with leases); its outcome is stored, nobody waits on it. */
  refreshInBackground (ex: Exchange, key: string, varyIndex: VaryIndex | null, stale: StoredEntry): void {
    const settle = this.#ctx.flight.lead(key)
    if (settle === null) return
    this.#lead(ex, key, varyIndex, stale, settle, 'background')
      .catch((err: unknown) => this.#ctx.logger.error({ err, key }, 'background refresh crashed'))
  }
}

function toCorralError (err: unknown): CorralError {
  return err instanceof CorralError ? err : new CorralError('CORRAL_ERR_INTERNAL', 'internal error', 500, { cause: err })
}
