/**
 * pipeline: one request's way through corral, stage by stage (DESIGN.md §1):
 *   receive → shed → key → lookup (L1 ► L2) → decide → fresh: deliver
 *                                                    → stale: deliver + refresh once in the background
 *                                                    → miss/expired: coalesce → fill (fetch → store) → deliver
 *                                                    → not cacheable: pass
 * Straight-line: each stage is a call into its module followed by a switch on its answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { LRUCache } from 'lru-cache'
import type { CacheStore, CacheRecord, StoredEntry, VaryIndex } from './store/types.js'
import { isPromise } from './store/types.js'
import type { Clock } from './clock.js'
import type { Logger } from './log.js'
import type { Metrics, XCache } from './metrics.js'
import type { Origin } from './fetch.js'
import type { StoreOptions, RequestFacts } from './policy/storable.js'
import type { FlightOutcome } from './coalesce/single-flight.js'
import { SingleFlight } from './coalesce/single-flight.js'
import { makeCacheKey, makeVariantKey, splitTarget, type KeyOptions } from './key.js'
import { decideUsable, mayServeOnError, ttlSeconds } from './policy/usable.js'
import { isNotModifiedForClient } from './policy/revalidate.js'
import { fill, discard, type FillContext, type FillRequest, type FillResult } from './fill.js'
import { streamResponse } from './pass.js'
import { CACHE_STATUS, deliverEntry, deliverNotModified, deliverText, hitCacheStatus, staleCacheStatus } from './deliver.js'
import { makeOriginRequestHeaders, normalizeAcceptEncoding } from './headers.js'
import { errorCode, WaiterTimeoutError, type CorralError } from './errors.js'
import type { FleetLease } from './coalesce/lease.js'
import { Trace, TRACE, type TraceSink } from './trace.js'

/** Everything the pipeline reads from config, resolved once per config load (never per request). */
export interface PipelineSettings {
  readonly keyOptions: KeyOptions
  readonly storeOptions: StoreOptions
  readonly maxObjectBytes: number
  readonly hitForPassMs: number
  readonly accessLog: boolean
}

export interface PipelineDeps {
  readonly store: CacheStore
  /** Fleet-wide coalescing through memcached leases; null with the embedded cache alone. */
  readonly fleet: FleetLease | null
  readonly origin: Origin
  readonly clock: Clock
  readonly logger: Logger
  readonly metrics: Metrics
}

export const HEALTH_PATH = '/__corral/health'

/** Request fields never forwarded on a fill: the stored response must be the full, unconditional one. */
const FILL_OVERRIDES_BASE = { 'if-none-match': null, 'if-modified-since': null, 'if-match': null, 'if-unmodified-since': null, 'if-range': null, range: null }

/** A request in flight through the pipeline. One per request, fixed shape. */
interface Exchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly trace: Trace
  readonly path: string
  readonly primaryKey: string
  readonly isHead: boolean
}

export class Pipeline implements TraceSink {
  readonly #deps: PipelineDeps
  readonly #flight: SingleFlight
  readonly #hitForPass: LRUCache<string, true>
  #fillContext: FillContext
  #settings: PipelineSettings
  draining = false

  constructor (deps: PipelineDeps, settings: PipelineSettings, originTimeoutMs: number) {
    this.#deps = deps
    this.#settings = settings
    this.#flight = new SingleFlight(originTimeoutMs)
    this.#hitForPass = new LRUCache({ max: 100_000, ttl: Math.max(1, settings.hitForPassMs) })
    this.#fillContext = this.#makeFillContext(settings)
  }

  /** Hot reload: the next request reads the new settings. */
  apply (settings: PipelineSettings, originTimeoutMs: number): void {
    this.#settings = settings
    this.#fillContext = this.#makeFillContext(settings)
    this.#flight.waitTimeoutMs = originTimeoutMs
  }

  #makeFillContext (settings: PipelineSettings): FillContext {
    const { clock, metrics, logger } = this.#deps
    return {
      origin: this.#deps.origin,
      store: this.#deps.store,
      now: () => clock.now(),
      storeOptions: settings.storeOptions,
      maxObjectBytes: settings.maxObjectBytes,
      rememberPass: (key) => { if (settings.hitForPassMs > 0) this.#hitForPass.set(key, true, { ttl: settings.hitForPassMs }) },
      onOriginTiming: (ms) => metrics.originDuration.observe(ms / 1000),
      onStoreError: (err) => logger.warn({ err }, 'store error')
    }
  }

  get inFlightFetches (): number {
    return this.#flight.size
  }

  handle (req: IncomingMessage, res: ServerResponse): void {
    const trace = new Trace(performance.now(), this)
    ;(res as ResponseWithTrace)[TRACE] = trace
    res.once('finish', onResponseDone)
    res.once('close', onResponseDone)

    const { path, query, host: targetHost } = splitTarget(req.url ?? '/')
    if (path === HEALTH_PATH) {
      // Load balancer probes are neither logged nor counted: they would drown the access log.
      trace.done = true
      return this.#health(res)
    }

    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'HEAD') return this.#passUnsafe(req, res, trace, path, query, targetHost)
    // Responses to these are per-user or partial: never looked up, never shared, never stored.
    if (req.headers.authorization !== undefined || req.headers.range !== undefined) {
      return this.#pass(req, res, trace, CACHE_STATUS.bypass)
    }

    const primaryKey = makeCacheKey(targetHost ?? req.headers.host, path, query, this.#settings.keyOptions)
    trace.key = primaryKey
    if (this.#hitForPass.has(primaryKey)) return this.#pass(req, res, trace, CACHE_STATUS.hitForPass)

    const ex: Exchange = { req, res, trace, path: req.url ?? '/', primaryKey, isHead: method === 'HEAD' }
    const found = this.#deps.store.get(primaryKey)
    if (isPromise(found)) {
      found.then((record) => this.#onPrimary(ex, record), (err: unknown) => this.#fail(ex, err))
    } else {
      this.#onPrimary(ex, found)
    }
  }

  /** The primary key holds an entry, a Vary index (look up the variant), or nothing. */
  #onPrimary (ex: Exchange, record: CacheRecord | undefined): void {
    if (record?.kind !== 'vary') return this.#decide(ex, ex.primaryKey, null, record)
    const variantKey = makeVariantKey(ex.primaryKey, record.epoch, record.varyHeaders, ex.req.headers)
    const found = this.#deps.store.get(variantKey)
    if (isPromise(found)) {
      found.then((r) => this.#decide(ex, variantKey, record, r?.kind === 'entry' ? r : undefined), (err: unknown) => this.#fail(ex, err))
    } else {
      this.#decide(ex, variantKey, record, found?.kind === 'entry' ? found : undefined)
    }
  }

  #decide (ex: Exchange, key: string, varyIndex: VaryIndex | null, entry: StoredEntry | undefined): void {
    if (entry === undefined) return this.#miss(ex, key, varyIndex, undefined)
    const now = this.#deps.clock.now()
    const usability = decideUsable(entry, now)
    switch (usability) {
      case 'fresh':
        return this.#serve(ex, entry, now, 'HIT', hitCacheStatus(ttlSeconds(entry, now)))
      case 'stale':
        this.#serve(ex, entry, now, 'STALE', staleCacheStatus(ttlSeconds(entry, now), 'stale-while-revalidate'))
        return this.#refreshInBackground(ex, key, varyIndex, entry)
      case 'expired':
        return this.#miss(ex, key, varyIndex, entry)
    }
  }

  #serve (ex: Exchange, entry: StoredEntry, now: number, xCache: XCache, cacheStatus: string): void {
    ex.trace.xCache = xCache
    ex.trace.bytes = ex.isHead ? 0 : entry.body.length
    const { headers } = ex.req
    if ((headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) &&
      isNotModifiedForClient(entry, headers['if-none-match'], headers['if-modified-since'])) {
      return deliverNotModified(ex.res, entry, now, xCache, cacheStatus)
    }
    deliverEntry(ex.res, entry, now, xCache, cacheStatus, ex.isHead)
  }

  /** Miss or expired: join the flight for this key, or lead it. */
  #miss (ex: Exchange, key: string, varyIndex: VaryIndex | null, stale: StoredEntry | undefined): void {
    const waiting = this.#flight.wait(key)
    if (waiting !== undefined) {
      ex.trace.coalesced = true
      this.#deps.metrics.coalescedWaiters.inc()
      waiting.then((outcome) => this.#onWaited(ex, stale, outcome), (err: unknown) => this.#fail(ex, err))
      return
    }
    const settle = this.#flight.lead(key) as (outcome: FlightOutcome) => void
    this.#lead(ex, key, varyIndex, stale, settle, false).catch((err: unknown) => this.#fail(ex, err))
  }

  /**
   * The leader of a key in this process: with a fleet, take the lease or wait for another process's fill; then fetch
   * and store. `background` is a stale-while-revalidate refresh: nobody is waiting on the answer.
   */
  async #lead (
    ex: Exchange, key: string, varyIndex: VaryIndex | null, stale: StoredEntry | undefined,
    settle: (outcome: FlightOutcome) => void, background: boolean
  ): Promise<void> {
    let release: (() => void) | null = null
    const fleet = this.#deps.fleet
    if (fleet !== null) {
      const turn = await fleet.takeTurn(key, ex.primaryKey, ex.req.headers, stale?.storedAt ?? 0)
      switch (turn.kind) {
        case 'filled':
          settle({ kind: 'entry', entry: turn.entry, vary: turn.vary })
          if (background) return
          ex.trace.coalesced = true
          return this.#serve(ex, turn.entry, this.#deps.clock.now(), 'HIT', CACHE_STATUS.collapsed)
        case 'timeout': {
          const error = new WaiterTimeoutError()
          settle({ kind: 'error', error })
          if (background) return
          return this.#originFailed(ex, stale, error, 'MISS')
        }
        case 'lead':
          release = turn.release
      }
    }
    this.#deps.metrics.originRequests.labels(background ? 'refresh' : stale === undefined ? 'miss' : 'expired').inc()
    let result: FillResult
    try {
      result = await fill(this.#fillContext, this.#fillRequest(ex, varyIndex, stale), settle)
    } finally {
      release?.()
    }
    if (!background) return this.#onFilled(ex, stale, result)
    if (result.kind === 'stream') discard(result.response.body)
    else if (result.kind === 'error') this.#deps.logger.warn({ key, code: result.error.code }, 'background refresh failed')
  }

  #fillRequest (ex: Exchange, varyIndex: VaryIndex | null, stale: StoredEntry | undefined): FillRequest {
    const { req } = ex
    const originHeaders = makeOriginRequestHeaders(req.headers, req.socket.remoteAddress, 'http', {
      ...FILL_OVERRIDES_BASE,
      // The origin sees the same normalised value the variant is keyed by.
      'accept-encoding': req.headers['accept-encoding'] === undefined ? null : normalizeAcceptEncoding(req.headers['accept-encoding'])
    })
    const facts: RequestFacts = { method: 'GET', url: ex.path, headers: req.headers }
    return { facts, path: ex.path, originHeaders, primaryKey: ex.primaryKey, varyIndex, staleEntry: stale }
  }

  #onFilled (ex: Exchange, stale: StoredEntry | undefined, result: FillResult): void {
    const now = this.#deps.clock.now()
    switch (result.kind) {
      case 'stored':
        ex.trace.originStatus = result.entry.status
        if (result.revalidated) return this.#serve(ex, result.entry, now, 'REVALIDATED', CACHE_STATUS.revalidated)
        return this.#serve(ex, result.entry, now, 'MISS', stale === undefined ? CACHE_STATUS.missStored : CACHE_STATUS.refetched)
      case 'stream':
        ex.trace.originStatus = result.response.status
        if (result.reason === 'error-status' && stale !== undefined && mayServeOnError(stale, now)) {
          discard(result.response.body)
          return this.#serve(ex, stale, now, 'STALE', staleCacheStatus(ttlSeconds(stale, now), 'stale-if-error'))
        }
        ex.trace.xCache = 'MISS'
        streamResponse(ex.res, result.response, result.head, 'MISS', `${CACHE_STATUS.miss}; detail=${result.reason}`, ex.isHead)
          .catch((err: unknown) => this.#fail(ex, err))
        return
      case 'error':
        return this.#originFailed(ex, stale, result.error, 'MISS')
    }
  }

  /** A waiter's turn: share the leader's entry if it is this request's variant, else fetch alone. */
  #onWaited (ex: Exchange, stale: StoredEntry | undefined, outcome: FlightOutcome): void {
    switch (outcome.kind) {
      case 'entry': {
        const { entry, vary } = outcome
        const expected = vary === null ? ex.primaryKey : makeVariantKey(ex.primaryKey, vary.epoch, vary.varyHeaders, ex.req.headers)
        if (expected === entry.key) return this.#serve(ex, entry, this.#deps.clock.now(), 'HIT', CACHE_STATUS.collapsed)
        return this.#pass(ex.req, ex.res, ex.trace, CACHE_STATUS.bypass)
      }
      case 'pass':
        return this.#pass(ex.req, ex.res, ex.trace, CACHE_STATUS.hitForPass)
      case 'error':
        return this.#originFailed(ex, stale, outcome.error, 'MISS')
    }
  }

  /** Stale-while-revalidate: one refresh per key (per fleet, with leases); its outcome is stored, nobody waits on it. */
  #refreshInBackground (ex: Exchange, key: string, varyIndex: VaryIndex | null, stale: StoredEntry): void {
    const settle = this.#flight.lead(key)
    if (settle === null) return
    this.#lead(ex, key, varyIndex, stale, settle, true)
      .catch((err: unknown) => this.#deps.logger.error({ err, key }, 'background refresh crashed'))
  }

  #originFailed (ex: Exchange, stale: StoredEntry | undefined, error: CorralError, xCache: XCache): void {
    const now = this.#deps.clock.now()
    this.#deps.metrics.originErrors.labels(error.code).inc()
    if (stale !== undefined && mayServeOnError(stale, now)) {
      return this.#serve(ex, stale, now, 'STALE', staleCacheStatus(ttlSeconds(stale, now), 'stale-if-error'))
    }
    ex.trace.xCache = xCache
    ex.trace.error = error.code
    this.#deps.logger.warn({ url: ex.req.url, code: error.code, cause: (error.cause as Error | undefined)?.message }, error.message)
    deliverText(ex.res, error.status, `${error.message}\n`, xCache, CACHE_STATUS.error)
  }

  /** Stream through without touching the cache. */
  #pass (req: IncomingMessage, res: ServerResponse, trace: Trace, cacheStatus: string): void {
    trace.xCache = 'PASS'
    this.#deps.metrics.originRequests.labels('pass').inc()
    const headers = makeOriginRequestHeaders(req.headers, req.socket.remoteAddress, 'http', null)
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
    this.#deps.origin.request({ method: req.method ?? 'GET', path: req.url ?? '/', headers, body: hasBody ? req : null })
      .then((response) => {
        trace.originStatus = response.status
        return streamResponse(res, response, null, 'PASS', cacheStatus, req.method === 'HEAD')
      })
      .catch((err: unknown) => {
        const error = err as CorralError
        trace.xCache = 'PASS'
        trace.error = errorCode(err)
        this.#deps.metrics.originErrors.labels(trace.error).inc()
        this.#deps.logger.warn({ url: req.url, code: trace.error }, error.message)
        deliverText(res, error.status ?? 502, `${error.message}\n`, 'PASS', CACHE_STATUS.error)
      })
  }

  /** RFC 9111 §4.4: a successful unsafe request invalidates the URI's stored responses. */
  #passUnsafe (req: IncomingMessage, res: ServerResponse, trace: Trace, path: string, query: string, targetHost: string | undefined): void {
    const primaryKey = makeCacheKey(targetHost ?? req.headers.host, path, query, this.#settings.keyOptions)
    res.once('finish', () => {
      if (res.statusCode < 400) this.invalidate(primaryKey).catch(noop)
    })
    this.#pass(req, res, trace, CACHE_STATUS.method)
  }

  /** Drop a URL's entry (and, through its Vary index, every variant). */
  async invalidate (primaryKey: string): Promise<void> {
    this.#hitForPass.delete(primaryKey)
    try {
      await this.#deps.store.delete(primaryKey)
    } catch (err) {
      this.#deps.logger.warn({ err }, 'store delete failed')
    }
  }

  invalidateUrl (host: string | undefined, url: string): Promise<void> {
    const { path, query, host: targetHost } = splitTarget(url)
    return this.invalidate(makeCacheKey(targetHost ?? host, path, query, this.#settings.keyOptions))
  }

  #health (res: ServerResponse): void {
    deliverText(res, this.draining ? 503 : 200, this.draining ? 'draining\n' : 'ok\n', null, null)
  }

  #fail (ex: Exchange, err: unknown): void {
    this.#deps.logger.error({ err, url: ex.req.url }, 'internal error')
    ex.trace.error = errorCode(err)
    deliverText(ex.res, 500, 'internal error\n', 'MISS', null)
  }

  /** One access line and the request metrics, when the response is done (or the client left). */
  finish (trace: Trace, res: ServerResponse): void {
    const ms = performance.now() - trace.start
    const xCache = trace.xCache ?? 'ERROR'
    const { metrics } = this.#deps
    metrics.requests[xCache].inc()
    metrics.requestDuration.labels(xCache).observe(ms / 1000)
    if (this.#settings.accessLog) {
      const req = res.req
      this.#deps.logger.info({
        method: req.method,
        url: req.url,
        status: res.statusCode,
        cache: trace.xCache,
        bytes: trace.bytes,
        ms: Math.round(ms * 100) / 100,
        originStatus: trace.originStatus === 0 ? undefined : trace.originStatus,
        coalesced: trace.coalesced || undefined,
        error: trace.error ?? undefined,
        aborted: res.writableFinished ? undefined : true
      }, 'access')
    }
  }
}

function noop (): void {}

interface ResponseWithTrace extends ServerResponse {
  [TRACE]?: Trace
}

/** A plain function, not a closure per request: it finds its trace on the response. */
function onResponseDone (this: ServerResponse): void {
  const trace = (this as ResponseWithTrace)[TRACE]
  if (trace === undefined || trace.done) return
  trace.done = true
  trace.sink.finish(trace, this)
}
