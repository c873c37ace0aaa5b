/**
 * pipeline: the driver. One request's way through corral, stage by stage (DESIGN.md §1):
 *
 *   step      module                 answer the driver switches on
 *   resolve   key.ts                 Target | null (400) | health
 *   shed      shed.ts                serve | cache-only | reject
 *   method    (here)                 GET/HEAD → lookup; OPTIONS/TRACE → pass; unsafe → pass + invalidate
 *   lookup    store/*                entry | Vary index (→ variant lookup) | nothing
 *   decide    policy/usable.ts       fresh → deliver | stale → deliver + refresh | expired/miss → coalesce
 *   coalesce  coalesce/miss.ts       MissOutcome: fetched | collapsed | stream | pass | failed
 *   fallback  policy/usable.ts       stale | shed | error, when the origin gives no answer
 *   deliver   deliver.ts, pass.ts    bytes on the wire
 *
 * Each stage is called and returns; only this file turns answers into X-Cache, Cache-Status and a delivery.
 */
import { performance } from 'node:perf_hooks'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CacheRecord, StoredEntry, VaryIndex } from './core/entry.js'
import { isPromise } from './store/types.js'
import { writeAccessLine } from './core/log.js'
import { answerAsteriskForm } from './asterisk-form.js'
import type { XCache } from './core/metrics.js'
import { discard, type OriginResponse } from './origin/fetch.js'
import type { Priority } from './config/types.js'
import { SingleFlight } from './coalesce/single-flight.js'
import { HitForPass } from './coalesce/hit-for-pass.js'
import { Coalescer, type MissOutcome } from './coalesce/miss.js'
import type { FillContext } from './fill.js'
import { HostNormalizer, makeVariantKey, pathOf, resolveTarget } from './key.js'
import { decideShed, matchRoute, type CompiledRoute, type ShedReason } from './shed.js'
import { decideFallback, decideUsable, ttlSeconds, type NoAnswerCause, type Usability } from './policy/usable.js'
import { forward } from './pass.js'
import { clientGoneSignal } from './client-gone.js'
import { isPassedForCookie } from './core/cookies.js'
import { CACHE_STATUS, deliverShed, deliverText, limitSendStall, relayResponse, serveEntry, serveHit, serveText, staleCacheStatus } from './deliver.js'
import { dropConnectionListed, makeOriginHeaders } from './core/headers.js'
import { assertNever, errorCode, type CorralError } from './core/errors.js'
import { tokenMatches } from './ops/admin-token.js'
import { Trace, extraHeaders, finishOnClose, type TraceSink } from './core/trace.js'
import { takeRequestId } from './core/request-id.js'
import { makeFillRequest, type Exchange, type PipelineCache, type PipelineDeps, type PipelineSettings, type ResolvedTarget } from './exchange.js'
import { freshenFromHead, invalidateAfterUnsafe, purge, type InvalidateContext } from './invalidate.js'
import { isOnlyIfCached } from './policy/conditional.js'

export type { PipelineCache, PipelineDeps, PipelineSettings } from './exchange.js'

export const HEALTH_PATH = '/__corral/health'
const ASTERISK = 42

export class Pipeline implements TraceSink {
  readonly #deps: PipelineDeps
  readonly #flight: SingleFlight
  readonly #hitForPass: HitForPass
  readonly #coalescer: Coalescer
  /** One counter per priority, so each priority's shed share is exact (shed.ts). */
  readonly #tickets: Record<Priority, number> = { critical: 0, normal: 0, sheddable: 0 }
  readonly #hosts = new HostNormalizer()
  #lastTarget: ResolvedTarget | null = null
  #cache: PipelineCache
  #settings: PipelineSettings
  draining = false

  constructor (deps: PipelineDeps, cache: PipelineCache, settings: PipelineSettings) {
    this.#deps = deps
    this.#cache = cache
    this.#settings = settings
    this.#flight = new SingleFlight(settings.waitTimeoutMs)
    this.#hitForPass = new HitForPass(settings.hitForPassMs)
    this.#coalescer = new Coalescer({ flight: this.#flight, hitForPass: this.#hitForPass, metrics: deps.metrics, logger: deps.logger }, this.#fillContext(), cache.fleet)
  }

  /** Hot reload: the next request reads the new settings. */
  apply (settings: PipelineSettings): void {
    this.#settings = settings
    this.#flight.waitTimeoutMs = settings.waitTimeoutMs
    this.#hitForPass.ttlMs = settings.hitForPassMs
    this.#coalescer.use(this.#fillContext(), this.#cache.fleet)
  }

  /** Swap the cache (memcached switched on or off, servers changed). In-flight requests finish on the old one. */
  useCache (cache: PipelineCache): void {
    this.#cache = cache
    this.#coalescer.use(this.#fillContext(), cache.fleet)
  }

  get cache (): PipelineCache {
    return this.#cache
  }

  #fillContext (): FillContext {
    const { origin, clock, logger } = this.#deps
    const { storeOptions, maxObjectBytes, fillHeaders, fillPurge } = this.#settings
    return { origin, store: this.#cache.store, now: () => clock.now(), storeOptions, maxObjectBytes, fillHeaders, logger, purge: fillPurge }
  }

  handle (req: IncomingMessage, res: ServerResponse): void {
    // A new trace per request, not a reused one: a reused trace lives in the old generation, and every young value
    // stored into it (the key, the route) took a write barrier, which cost more than the allocation (--perf).
    const trace = new Trace(performance.now(), this)
    try {
      this.#dispatch(req, res, trace)
    } catch (err) {
      // A throw here would leave node:http's request listener and kill the process (no stage is meant to throw, but a
      // record node:http refuses to write, say, must cost one 500, not every request in flight).
      this.#failed(res, trace, req.url, err)
    }
    // An answer written synchronously (a memory hit, a shed) is accounted for now; one still under way when its
    // response closes. A listener per request only where it is needed: 'close' costs about a microsecond.
    if (res.writableEnded) {
      if (!trace.done) {
        trace.done = true
        this.finish(trace, res)
      }
    } else {
      finishOnClose(res, trace)
    }
  }

  #dispatch (req: IncomingMessage, res: ServerResponse, trace: Trace): void {
    const settings = this.#settings
    const rawUrl = req.url ?? '/'
    const host = req.headers.host
    // resolve: a pure function of URL, Host and settings, so the last answer is kept while requests repeat them (a
    // spike is one URL): a key rebuilt per request is a fresh string the LRU hashes in full (bench/micro.ts).
    let target = this.#lastTarget
    if (target === null || target.rawUrl !== rawUrl || target.host !== host || target.settings !== settings) {
      if (rawUrl.charCodeAt(0) === ASTERISK) {
        // Asterisk-form names the server, not a page (asterisk-form.ts): answered here, neither logged nor counted.
        trace.done = true
        return answerAsteriskForm(res, rawUrl)
      }
      if (pathOf(rawUrl) === HEALTH_PATH) {
        // Load balancer probes are neither logged nor counted: they would drown the access log.
        trace.done = true
        deliverText(res, this.draining ? 503 : 200, this.draining ? 'draining\n' : 'ok\n', null, null)
        return
      }
      const resolved = resolveTarget(rawUrl, host, settings.keyOptions, this.#hosts)
      if (resolved === null) {
        trace.error = 'CORRAL_ERR_BAD_REQUEST'
        trace.bytes = deliverText(res, 400, 'bad request\n', null, null, ['connection', 'close'])
        return
      }
      target = { ...resolved, rawUrl, host, settings, route: matchRoute(settings.routes, resolved.path, resolved.keyHost) }
      this.#lastTarget = target
    }
    const { route } = target
    if (req.headers.connection !== undefined) dropConnectionListed(req.headers)
    if (settings.requestIds) trace.requestId = takeRequestId(req.headers)
    if (req.headers['x-corral-debug'] !== undefined && settings.debugToken !== undefined) {
      trace.debug = tokenMatches(settings.debugToken, String(req.headers['x-corral-debug']))
    }

    // shed: decided before any cache or origin work.
    trace.route = route.match
    const decision = decideShed(route, settings.flags, this.#deps.load, this.#tickets[route.priority]++)
    if (decision.action === 'reject') return this.#shed(res, trace, route, decision.reason, req.method === 'HEAD')
    trace.key = target.primaryKey
    const method = req.method ?? 'GET'
    const ex: Exchange = {
      req, res, trace, target, route, isHead: method === 'HEAD', cacheOnly: decision.action === 'cache-only' ? decision.reason : null
    }
    if (method !== 'GET' && method !== 'HEAD') {
      // RFC 9110 §9.2.1: OPTIONS and TRACE are safe; a CORS preflight must not evict the page.
      return method === 'OPTIONS' || method === 'TRACE' ? this.#pass(ex, CACHE_STATUS.method) : this.#passUnsafe(ex)
    }
    // A request with credentials gets the origin's answer, never a stored one; RFC 9111 §3.5 lets that answer be stored
    // for others only when it says so (public, s-maxage, must-revalidate). A Range takes the cache's road: answered from
    // the whole stored response (deliver.ts), and a miss fills the whole object.
    if (req.headers.authorization !== undefined) return this.#passAuthorized(ex)
    // cache.requestCookies `pass`: a request with a cookie that counts never meets the cache (core/cookies.ts).
    if (req.headers.cookie !== undefined && isPassedForCookie(req.headers.cookie, settings.fillHeaders.cookies)) return this.#pass(ex, CACHE_STATUS.bypass)
    const found = this.#cache.store.get(target.primaryKey)
    if (isPromise(found)) {
      trace.tier = 'shared'
      found.then((record) => this.#onPrimary(ex, record)).catch((err: unknown) => this.#fail(ex, err))
    } else {
      trace.tier = 'memory'
      this.#onPrimary(ex, found)
    }
  }

  /** The primary key holds an entry, a Vary index (look up the variant), or nothing. */
  #onPrimary (ex: Exchange, record: CacheRecord | undefined): void {
    if (record?.kind !== 'vary') return this.#decide(ex, ex.target.primaryKey, null, record)
    const variantKey = makeVariantKey(ex.target.primaryKey, record.epoch, record.varyHeaders, ex.req.headers)
    const found = this.#cache.store.get(variantKey)
    if (isPromise(found)) {
      ex.trace.tier = 'shared'
      found.then((r) => this.#decide(ex, variantKey, record, r?.kind === 'entry' ? r : undefined)).catch((err: unknown) => this.#fail(ex, err))
    } else {
      this.#decide(ex, variantKey, record, found?.kind === 'entry' ? found : undefined)
    }
  }

  #decide (ex: Exchange, key: string, varyIndex: VaryIndex | null, entry: StoredEntry | undefined): void {
    if (entry === undefined) ex.trace.tier = 'none'
    // Found in memory, synchronously: the request's start is now, to the microsecond (one clock read fewer per hit).
    const { clock } = this.#deps
    const now = ex.trace.tier === 'memory' && clock.at !== undefined ? clock.at(ex.trace.start) : clock.now()
    const usability = entry === undefined ? 'expired' : decideUsable(entry, now)
    if (usability === 'fresh') return serveHit(ex, entry as StoredEntry, now, this.#deps.origin.timeoutMs, this.#settings.removedBeforeDelivery)
    if (ex.req.headers['cache-control'] !== undefined && isOnlyIfCached(ex.req.headers)) return this.#onlyIfCached(ex, entry, usability, now)
    if (ex.cacheOnly !== null) return this.#fallback(ex, entry, ex.cacheOnly, null)
    let fill = makeFillRequest(ex, key, varyIndex, entry, this.#settings.fillHeaders)
    // A hit-for-pass URL is fetched alone, for this client only: its origin request goes when the client does.
    if (this.#hitForPass.has(fill.primaryKey) && usability !== 'stale') fill = { ...fill, signal: clientGoneSignal(ex.res) }
    if (usability === 'stale') {
      const stale = entry as StoredEntry
      this.#serve(ex, stale, now, 'STALE', staleCacheStatus(ttlSeconds(stale, now), stale.graceWindow === true ? 'grace' : 'stale-while-revalidate'))
      return this.#coalescer.refresh(fill)
    }
    this.#coalescer.miss(fill, ex.trace, ex.isHead)
      .then((outcome) => this.#onMiss(ex, entry, outcome))
      .catch((err: unknown) => this.#fail(ex, err))
  }

  /** The one switch over a miss's outcome: X-Cache, Cache-Status and the delivery. */
  #onMiss (ex: Exchange, stale: StoredEntry | undefined, outcome: MissOutcome): void {
    const now = this.#deps.clock.now()
    switch (outcome.kind) {
      case 'fetched':
        if (outcome.revalidated) return this.#serve(ex, outcome.entry, now, 'REVALIDATED', CACHE_STATUS.revalidated)
        return this.#serve(ex, outcome.entry, now, 'MISS', stale === undefined ? CACHE_STATUS.missStored : CACHE_STATUS.refetched)
      case 'collapsed':
        return this.#serve(ex, outcome.entry, now, 'HIT', CACHE_STATUS.collapsed)
      case 'stream':
        if (outcome.reason === 'error-status' && decideFallback(stale, 'origin-error', now) === 'stale') {
          discard(outcome.response.body)
          return this.#serve(ex, stale as StoredEntry, now, 'STALE', staleCacheStatus(ttlSeconds(stale as StoredEntry, now), 'stale-if-error'))
        }
        if (outcome.hitForPass) return this.#relay(ex, outcome.response, outcome.head, 'PASS', CACHE_STATUS.hitForPass)
        return this.#relay(ex, outcome.response, outcome.head, 'MISS', `${CACHE_STATUS.miss}; detail=${outcome.reason}`)
      case 'pass':
        return this.#pass(ex, outcome.detail === 'hit-for-pass' ? CACHE_STATUS.hitForPass : CACHE_STATUS.bypass)
      case 'failed':
        return this.#originFailed(ex, stale, outcome.error)
      default:
        return assertNever(outcome)
    }
  }

  /** The origin failed, timed out or is saturated: a stand-in if one may answer, else 502/504 (or the shed answer). */
  #originFailed (ex: Exchange, stale: StoredEntry | undefined, error: CorralError): void {
    // The client left and its origin request was aborted (client-gone.ts): nobody to answer, nothing against the origin.
    if (error.code === 'CORRAL_ERR_CLIENT_GONE') {
      ex.trace.error = error.code
      return
    }
    this.#deps.metrics.originErrors.labels(error.code).inc()
    this.#fallback(ex, stale, error.code === 'CORRAL_ERR_ORIGIN_BUSY' ? 'origin-busy' : 'origin-error', error)
  }

  /** Nothing from the origin for this request (shedding keeps it away, or it failed): policy says what answers. */
  #fallback (ex: Exchange, stale: StoredEntry | undefined, cause: NoAnswerCause, error: CorralError | null): void {
    const now = this.#deps.clock.now()
    const shedReason: ShedReason = cause === 'origin-busy' || cause === 'origin-error' ? 'origin-saturated' : cause
    switch (decideFallback(stale, cause, now)) {
      case 'stale': {
        const entry = stale as StoredEntry
        if (cause !== 'origin-error' && cause !== 'origin-busy') ex.trace.shed = shedReason
        return this.#serve(ex, entry, now, 'STALE', staleCacheStatus(ttlSeconds(entry, now), cause === 'origin-error' ? 'stale-if-error' : shedReason))
      }
      case 'shed':
        return this.#shed(ex.res, ex.trace, ex.route, shedReason, ex.isHead)
      case 'error': {
        const failure = error as CorralError
        ex.trace.error = failure.code
        this.#deps.logger.warn({ url: ex.target.forwardUrl, code: failure.code, cause: (failure.cause as Error | undefined)?.message }, failure.message)
        return serveText(ex, failure.status, `${failure.message}\n`, ex.trace.xCache === 'PASS' ? 'PASS' : 'MISS', CACHE_STATUS.error)
      }
    }
  }

  /** An Authorization request: a fill of its own (no lookup, flight or lease), stored only if the answer allows it. */
  #passAuthorized (ex: Exchange): void {
    if (ex.isHead || ex.cacheOnly !== null) return this.#pass(ex, CACHE_STATUS.bypass)
    ex.trace.xCache = 'PASS'
    // Fetched alone, for this client only: its origin request goes when the client does (client-gone.ts).
    const fill = { ...makeFillRequest(ex, ex.target.primaryKey, null, undefined, this.#settings.fillHeaders), signal: clientGoneSignal(ex.res) }
    this.#coalescer.bypass(fill, ex.trace).then((outcome) => {
      const now = this.#deps.clock.now()
      switch (outcome.kind) {
        case 'fetched':
        case 'collapsed':
          return this.#serve(ex, outcome.entry, now, 'PASS', CACHE_STATUS.bypassStored)
        case 'stream':
          return this.#relay(ex, outcome.response, outcome.head, 'PASS', CACHE_STATUS.bypass)
        case 'pass':
          return this.#pass(ex, CACHE_STATUS.bypass)
        case 'failed':
          return this.#originFailed(ex, undefined, outcome.error)
        default:
          return assertNever(outcome)
      }
    }).catch((err: unknown) => this.#fail(ex, err))
  }

  /**
   * RFC 9111 §5.2.1.7: the client wants no origin traffic. A stale copy corral may serve answers (nothing is refreshed
   * for it); else 504, which costs the origin nothing.
   */
  #onlyIfCached (ex: Exchange, entry: StoredEntry | undefined, usability: Usability, now: number): void {
    if (entry !== undefined && usability === 'stale') return this.#serve(ex, entry, now, 'STALE', staleCacheStatus(ttlSeconds(entry, now), 'only-if-cached'))
    serveText(ex, 504, 'not in cache (only-if-cached)\n', 'MISS', CACHE_STATUS.onlyIfCached)
  }

  #serve (ex: Exchange, entry: StoredEntry, now: number, xCache: XCache, cacheStatus: string): void {
    serveEntry(ex, entry, now, xCache, cacheStatus, this.#deps.origin.timeoutMs, this.#settings.removedBeforeDelivery)
  }

  #relay (ex: Exchange, response: OriginResponse, head: readonly Buffer[] | null, xCache: XCache, cacheStatus: string): void {
    relayResponse(ex, response, head, xCache, cacheStatus, this.#settings.removedBeforeDelivery).catch((err: unknown) => this.#fail(ex, err))
  }

  /** Stream through without touching the cache; `onAnswer` sees the origin's response headers first. */
  #pass (ex: Exchange, cacheStatus: string, onAnswer: ((response: OriginResponse) => void) | null = null): void {
    if (ex.cacheOnly !== null) return this.#fallback(ex, undefined, ex.cacheOnly, null)
    const { req, trace } = ex
    trace.xCache = 'PASS'
    this.#deps.metrics.originRequests.labels('pass').inc()
    const headers = makeOriginHeaders(req.headers, req.socket.remoteAddress, 'pass', ex.target.keyHost)
    forward(this.#deps.origin, req, ex.target.forwardUrl, headers, ex.route.origin, clientGoneSignal(ex.res)).then((outcome) => {
      switch (outcome.kind) {
        case 'stream':
          trace.originStatus = outcome.response.status
          trace.originMs = outcome.response.latencyMs
          onAnswer?.(outcome.response)
          // RFC 9111 §4.3.5: a HEAD that reached the origin freshens (or stales) the stored GET.
          if (ex.isHead && outcome.response.status === 200) {
            freshenFromHead(this.#invalidateContext(), ex.target.primaryKey, req.headers, 200, outcome.response.headers, this.#deps.clock.now(), this.#settings.storeOptions).catch(noop)
          }
          return this.#relay(ex, outcome.response, null, 'PASS', cacheStatus)
        case 'failed':
          return this.#originFailed(ex, undefined, outcome.error)
      }
    }).catch((err: unknown) => this.#fail(ex, err))
  }

  /**
   * RFC 9111 §4.4: an unsafe request the origin answered without an error invalidates the target URI and the
   * same-origin URIs in Location and Content-Location (invalidate.ts). Only an answer from the origin: a shed answer
   * never reached it, whatever its status (a lite page may be a 200), and marking pages stale would send refreshes to
   * an origin that shedding is protecting.
   */
  #passUnsafe (ex: Exchange): void {
    this.#pass(ex, CACHE_STATUS.method, (response) => {
      const { req } = ex
      const settings = this.#settings
      invalidateAfterUnsafe(this.#invalidateContext(), {
        method: req.method ?? 'POST', status: response.status, target: req.url ?? '/', host: req.headers.host ?? '', headers: response.headers
      }, settings.keyOptions, this.#deps.clock.now(), settings.storeOptions.keepStaleSeconds).catch(noop)
    })
  }

  #shed (res: ServerResponse, trace: Trace, route: CompiledRoute, reason: ShedReason, isHead: boolean): void {
    trace.xCache = 'SHED'
    trace.shed = reason
    this.#deps.metrics.sheds.labels(reason, route.match).inc()
    trace.bytes = deliverShed(res, route.answer, reason, isHead, extraHeaders(trace))
    limitSendStall(res, this.#deps.origin.timeoutMs)
  }

  #invalidateContext (): InvalidateContext {
    return { store: this.#cache.store, hitForPass: this.#hitForPass, logger: this.#deps.logger }
  }

  /** Drop a URL's entry (and, through its Vary index, every variant): the admin purge. */
  async invalidate (primaryKey: string): Promise<void> {
    await purge(this.#invalidateContext(), primaryKey)
  }

  #fail (ex: Exchange, err: unknown): void {
    this.#failed(ex.res, ex.trace, ex.target.forwardUrl, err)
  }

  #failed (res: ServerResponse, trace: Trace, url: string | undefined, err: unknown): void {
    this.#deps.logger.error({ err, url }, 'internal error')
    trace.error = errorCode(err)
    trace.bytes = deliverText(res, 500, 'internal error\n', 'MISS', null, extraHeaders(trace) ?? undefined)
  }

  /** One access line and the request metrics, when the response is done (or the client left). */
  finish (trace: Trace, res: ServerResponse): void {
    const ms = performance.now() - trace.start
    const xCache = trace.xCache ?? 'ERROR'
    const { metrics } = this.#deps
    metrics.requests.record(xCache, ms / 1000, res.statusCode)
    if (this.#settings.accessLog) writeAccessLine(this.#deps.logger, trace, res, ms, this.#settings.flags.trace)
  }
}

function noop (): void {}
