/**
 * pipeline: one request's way through corral, stage by stage (DESIGN.md §1):
 *   receive → shed → key → lookup (L1 ► L2) → decide → fresh: deliver
 *                                                    → stale: deliver + refresh once in the background
 *                                                    → miss/expired: coalesce → fill (fetch → store) → deliver
 *                                                    → not cacheable: pass
 * Straight-line: each stage is a call into its module followed by a switch on its answer.
 */
import { performance } from 'node:perf_hooks'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { LRUCache } from 'lru-cache'
import type { CacheStore, CacheRecord, StoredEntry, VaryIndex } from './store/types.js'
import { isPromise } from './store/types.js'
import type { Clock } from './core/clock.js'
import type { Logger } from './core/log.js'
import type { Metrics, XCache } from './core/metrics.js'
import type { Origin, OriginResponse } from './origin/fetch.js'
import type { StoreOptions } from './policy/storable.js'
import type { FleetLease } from './coalesce/lease.js'
import type { Flags } from './config/flags.js'
import type { Priority } from './config/types.js'
import { SingleFlight } from './coalesce/single-flight.js'
import { HostNormalizer, joinKey, makeCacheKey, makeVariantKey, normalizeQuery, splitTarget, type KeyOptions } from './key.js'
import { decideShed, matchRoute, type CompiledRoute, type RouteTable, type ShedLoad, type ShedReason } from './shed.js'
import { decideUsable, mayServeOnError, ttlSeconds } from './policy/usable.js'
import { isNotModifiedForClient } from './policy/revalidate.js'
import type { FillContext } from './fill.js'
import { streamResponse } from './pass.js'
import { CACHE_STATUS, deliverEntry, deliverHit, deliverNotModified, deliverShed, deliverText, hitCacheStatus, limitSendStall, staleCacheStatus } from './deliver.js'
import { dropConnectionListed, makeOriginRequestHeaders } from './core/headers.js'
import { ConfigError, errorCode, type CorralError } from './core/errors.js'
import { tokenMatches } from './ops/admin-token.js'
import { Trace, TRACE, extraHeaders, type TraceSink } from './core/trace.js'
import { takeRequestId } from './core/request-id.js'
import type { Exchange } from './exchange.js'
import { Coalescer } from './coalesce/miss.js'
import { writeAccessLine } from './core/log.js'

/** Everything the pipeline reads from config, resolved once per config load (never per request). */
export interface PipelineSettings {
  readonly keyOptions: KeyOptions
  readonly storeOptions: StoreOptions
  readonly maxObjectBytes: number
  readonly hitForPassMs: number
  readonly accessLog: boolean
  /** Take or make each request's X-Request-Id (core/request-id.ts): on with the access line that shows it. */
  readonly requestIds: boolean
  readonly routes: RouteTable
  readonly flags: Flags
  /** admin.token: a request carrying it in X-Corral-Debug gets its trace. Undefined: nothing is revealed. */
  readonly debugToken: string | undefined
  /** In-process waiters' deadline (origin.timeoutMs, plus the fleet's wait with memcached). */
  readonly waitTimeoutMs: number
}

export interface PipelineDeps {
  readonly origin: Origin
  readonly clock: Clock
  readonly logger: Logger
  readonly metrics: Metrics
  /** Live load figures for shedding (origin saturation). */
  readonly load: ShedLoad
}

/** The cache in force; swapped as a whole when the memcached settings change on reload. */
export interface PipelineCache {
  readonly store: CacheStore
  /** Fleet-wide coalescing through memcached leases; null with the embedded cache alone. */
  readonly fleet: FleetLease | null
}

export const HEALTH_PATH = '/__corral/health'

export class Pipeline implements TraceSink {
  readonly #deps: PipelineDeps
  readonly #flight: SingleFlight
  readonly #coalescer: Coalescer
  readonly #hitForPass = new LRUCache<string, true>({ max: 100_000, ttl: 60_000 })
  /** One counter per priority, so each priority's shed share is exact (shed.ts). */
  readonly #tickets: Record<Priority, number> = { critical: 0, normal: 0, sheddable: 0 }
  readonly #hosts = new HostNormalizer()
  #lastTarget: ResolvedTarget | null = null
  #cache: PipelineCache
  #fillContext: FillContext
  #settings: PipelineSettings
  draining = false

  constructor (deps: PipelineDeps, cache: PipelineCache, settings: PipelineSettings) {
    this.#deps = deps
    this.#cache = cache
    this.#settings = settings
    this.#flight = new SingleFlight(settings.waitTimeoutMs)
    this.#fillContext = this.#makeFillContext()
    const { metrics, logger, clock } = deps
    this.#coalescer = new Coalescer({
      flight: this.#flight,
      metrics,
      logger,
      clock,
      fillContext: () => this.#fillContext,
      fleet: () => this.#cache.fleet,
      // The size check first: with no uncacheable URL remembered, a miss pays no LRU lookup.
      isRememberedPass: (key) => this.#hitForPass.size !== 0 && this.#hitForPass.has(key)
    }, {
      serve: (ex, entry, now, xCache, cacheStatus) => this.#serve(ex, entry, now, xCache, cacheStatus),
      stream: (ex, source, xCache, cacheStatus) => this.#stream(ex, source, xCache, cacheStatus),
      pass: (ex, cacheStatus) => this.#pass(ex, cacheStatus),
      originFailed: (ex, stale, error) => this.#originFailed(ex, stale, error),
      fail: (ex, err) => this.#fail(ex, err)
    })
  }

  /** Hot reload: the next request reads the new settings. */
  apply (settings: PipelineSettings): void {
    this.#settings = settings
    this.#flight.waitTimeoutMs = settings.waitTimeoutMs
    this.#fillContext = this.#makeFillContext()
  }

  /** Swap the cache (memcached switched on or off, servers changed). In-flight requests finish on the old one. */
  useCache (cache: PipelineCache): void {
    this.#cache = cache
    this.#fillContext = this.#makeFillContext()
  }

  get cache (): PipelineCache {
    return this.#cache
  }

  #makeFillContext (): FillContext {
    const { clock, metrics, logger } = this.#deps
    const settings = this.#settings
    return {
      origin: this.#deps.origin,
      store: this.#cache.store,
      now: () => clock.now(),
      storeOptions: settings.storeOptions,
      maxObjectBytes: settings.maxObjectBytes,
      rememberPass: (key) => { if (settings.hitForPassMs > 0) this.#hitForPass.set(key, true, { ttl: settings.hitForPassMs }) },
      forgetPass: (key) => { if (this.#hitForPass.size !== 0) this.#hitForPass.delete(key) },
      onOriginTiming: (ms) => metrics.originDuration.observe(ms / 1000),
      onStoreError: (err) => logger.warn({ err }, 'store error')
    }
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
      ;(res as ResponseWithTrace)[TRACE] = trace
      res.once('close', onResponseDone)
    }
  }

  #dispatch (req: IncomingMessage, res: ServerResponse, trace: Trace): void {
    const settings = this.#settings
    const rawUrl = req.url ?? '/'
    const host = req.headers.host
    let target = this.#lastTarget
    if (target === null || target.rawUrl !== rawUrl || target.host !== host || target.settings !== settings) {
      target = this.#resolve(rawUrl, host, settings, res, trace)
      if (target === null) return
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
    const cacheOnly = decision.action === 'cache-only' ? decision.reason : null

    const { primaryKey, path, normalizedQuery, forwardUrl: url } = target
    trace.key = primaryKey
    const method = req.method ?? 'GET'
    const ex: Exchange = { req, res, trace, url, path, normalizedQuery, primaryKey, isHead: method === 'HEAD', route, cacheOnly }
    if (method !== 'GET' && method !== 'HEAD') {
      // RFC 9110 §9.2.1: OPTIONS and TRACE are safe; a CORS preflight must not evict the page.
      return method === 'OPTIONS' || method === 'TRACE' ? this.#pass(ex, CACHE_STATUS.method) : this.#passUnsafe(ex)
    }
    // Responses to these are per-user or partial: never looked up, never shared, never stored.
    if (req.headers.authorization !== undefined || req.headers.range !== undefined) return this.#pass(ex, CACHE_STATUS.bypass)

    const found = this.#cache.store.get(primaryKey)
    if (isPromise(found)) {
      trace.tier = 'shared'
      found.then((record) => this.#onPrimary(ex, record)).catch((err: unknown) => this.#fail(ex, err))
    } else {
      trace.tier = 'memory'
      this.#onPrimary(ex, found)
    }
  }

  /**
   * What a request target and Host name: the path, the key, the route. A pure function of the three arguments, so the
   * last answer is kept and reused while requests repeat them (a spike is one URL): a key rebuilt per request is a
   * fresh string the LRU hashes and compares in full, and with it this work was half of a memory hit's own cost
   * (bench/micro.ts). Null when the request was answered here (the health probe, a 400).
   */
  #resolve (rawUrl: string, host: string | undefined, settings: PipelineSettings, res: ServerResponse, trace: Trace): ResolvedTarget | null {
    // Origin-form (almost every request) is split inline: no object to allocate.
    let path: string
    let query: string
    let targetHost: string | undefined
    if (rawUrl.charCodeAt(0) === 47) {
      const q = rawUrl.indexOf('?')
      path = q === -1 ? rawUrl : rawUrl.slice(0, q)
      query = q === -1 ? '' : rawUrl.slice(q + 1)
    } else {
      ({ path, query, host: targetHost } = splitTarget(rawUrl))
    }
    if (path === HEALTH_PATH) {
      // Load balancer probes are neither logged nor counted: they would drown the access log.
      trace.done = true
      this.#health(res)
      return null
    }
    // The key is host + path: a Host that is not a host, or an absolute-form target naming another host than the
    // one the origin will be told, could file one page under another page's key.
    let keyHost = ''
    if (host !== undefined) {
      const normalized = this.#hosts.normalize(host)
      if (normalized === null) {
        this.#badRequest(res, trace)
        return null
      }
      keyHost = normalized
    }
    if (targetHost !== undefined && (host === undefined || targetHost.toLowerCase() !== host.toLowerCase())) {
      this.#badRequest(res, trace)
      return null
    }
    const normalizedQuery = normalizeQuery(query, settings.keyOptions)
    return {
      rawUrl,
      host,
      settings,
      path,
      normalizedQuery,
      primaryKey: joinKey(settings.keyOptions.includeHost ? keyHost : '', path, normalizedQuery),
      // Passes forward the target as sent (in origin-form); fills ask for exactly what the key names.
      forwardUrl: targetHost === undefined ? rawUrl : query === '' ? path : `${path}?${query}`,
      route: matchRoute(settings.routes, path)
    }
  }

  /** The primary key holds an entry, a Vary index (look up the variant), or nothing. */
  #onPrimary (ex: Exchange, record: CacheRecord | undefined): void {
    if (record?.kind !== 'vary') return this.#decide(ex, ex.primaryKey, null, record)
    const variantKey = makeVariantKey(ex.primaryKey, record.epoch, record.varyHeaders, ex.req.headers)
    const found = this.#cache.store.get(variantKey)
    if (isPromise(found)) {
      ex.trace.tier = 'shared'
      found.then((r) => this.#decide(ex, variantKey, record, r?.kind === 'entry' ? r : undefined)).catch((err: unknown) => this.#fail(ex, err))
    } else {
      this.#decide(ex, variantKey, record, found?.kind === 'entry' ? found : undefined)
    }
  }

  #decide (ex: Exchange, key: string, varyIndex: VaryIndex | null, entry: StoredEntry | undefined): void {
    if (entry === undefined) {
      ex.trace.tier = 'none'
      if (ex.cacheOnly !== null) return this.#shed(ex.res, ex.trace, ex.route, ex.cacheOnly, ex.isHead)
      return this.#coalescer.miss(ex, key, varyIndex, undefined)
    }
    // Found in memory, synchronously: the request's start is now, to the microsecond (one clock read fewer per hit).
    const { clock } = this.#deps
    const now = ex.trace.tier === 'memory' && clock.at !== undefined ? clock.at(ex.trace.start) : clock.now()
    const usability = decideUsable(entry, now)
    if (usability !== 'fresh' && ex.cacheOnly !== null) {
      // Shedding: a stale page of any age beats an error page, and nothing reaches the origin.
      ex.trace.shed = ex.cacheOnly
      return this.#serve(ex, entry, now, 'STALE', staleCacheStatus(ttlSeconds(entry, now), ex.cacheOnly))
    }
    switch (usability) {
      case 'fresh':
        return this.#serveHit(ex, entry, now)
      case 'stale':
        this.#serve(ex, entry, now, 'STALE', staleCacheStatus(ttlSeconds(entry, now), 'stale-while-revalidate'))
        return this.#coalescer.refreshInBackground(ex, key, varyIndex, entry)
      case 'expired':
        return this.#coalescer.miss(ex, key, varyIndex, entry)
    }
  }

  /** The hot path: a fresh entry, most often from memory, answered synchronously. */
  #serveHit (ex: Exchange, entry: StoredEntry, now: number): void {
    const { trace, req } = ex
    const { headers } = req
    if (headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined || trace.debug) {
      return this.#serve(ex, entry, now, 'HIT', hitCacheStatus(ttlSeconds(entry, now)))
    }
    trace.xCache = 'HIT'
    trace.bytes = ex.isHead ? 0 : entry.body.length
    deliverHit(ex.res, entry, now, ex.isHead, trace.requestId)
    limitSendStall(ex.res, this.#deps.origin.timeoutMs)
  }

  #serve (ex: Exchange, entry: StoredEntry, now: number, xCache: XCache, cacheStatus: string): void {
    const { trace, req } = ex
    trace.xCache = xCache
    trace.bytes = ex.isHead ? 0 : entry.body.length
    const extra = extraHeaders(trace)
    const { headers } = req
    if ((headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) &&
      isNotModifiedForClient(entry, headers['if-none-match'], headers['if-modified-since'])) {
      return deliverNotModified(ex.res, entry, now, xCache, cacheStatus, extra)
    }
    deliverEntry(ex.res, entry, now, xCache, cacheStatus, ex.isHead, extra)
    limitSendStall(ex.res, this.#deps.origin.timeoutMs)
  }

  #stream (ex: Exchange, result: { readonly response: OriginResponse, readonly head: readonly Buffer[] | null }, xCache: XCache, cacheStatus: string): void {
    const { trace } = ex
    trace.xCache = xCache
    const length = result.response.headers['content-length']
    trace.bytes = typeof length === 'string' ? Number(length) : 0
    const extra = extraHeaders(trace)
    streamResponse(ex.res, result.response, result.head, xCache, cacheStatus, ex.isHead, extra)
      .catch((err: unknown) => this.#fail(ex, err))
  }

  /**
   * The origin failed, timed out or is saturated: a stale copy if one may stand in (stale-if-error; any stale copy
   * the origin did not forbid when corral itself is holding requests back), else the route's shed answer for
   * saturation, else 502/504.
   */
  #originFailed (ex: Exchange, stale: StoredEntry | undefined, error: CorralError): void {
    const now = this.#deps.clock.now()
    this.#deps.metrics.originErrors.labels(error.code).inc()
    const busy = error.code === 'CORRAL_ERR_ORIGIN_BUSY'
    if (stale !== undefined && (mayServeOnError(stale, now) || (busy && !stale.mustRevalidate))) {
      return this.#serve(ex, stale, now, 'STALE', staleCacheStatus(ttlSeconds(stale, now), busy ? 'origin-saturated' : 'stale-if-error'))
    }
    if (busy) return this.#shed(ex.res, ex.trace, ex.route, 'origin-saturated', ex.isHead)
    ex.trace.xCache = 'MISS'
    ex.trace.error = error.code
    this.#deps.logger.warn({ url: ex.url, code: error.code, cause: (error.cause as Error | undefined)?.message }, error.message)
    ex.trace.bytes = deliverText(ex.res, error.status, `${error.message}\n`, 'MISS', CACHE_STATUS.error, extraHeaders(ex.trace) ?? undefined)
  }

  /** Stream through without touching the cache. */
  #pass (ex: Exchange, cacheStatus: string): void {
    const { req, trace } = ex
    if (ex.cacheOnly !== null) return this.#shed(ex.res, trace, ex.route, ex.cacheOnly, ex.isHead)
    trace.xCache = 'PASS'
    this.#deps.metrics.originRequests.labels('pass').inc()
    const headers = makeOriginRequestHeaders(req.headers, req.socket.remoteAddress, 'http', null)
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
    const started = performance.now()
    this.#deps.origin.request({ method: req.method ?? 'GET', path: ex.url, headers, body: hasBody ? req : null })
      .then((response) => {
        trace.originStatus = response.status
        trace.originMs = performance.now() - started
        this.#stream(ex, { response, head: null }, 'PASS', cacheStatus)
      }, (err: unknown) => {
        const error = err as CorralError
        trace.error = errorCode(err)
        this.#deps.metrics.originErrors.labels(trace.error).inc()
        if (trace.error === 'CORRAL_ERR_ORIGIN_BUSY') return this.#shed(ex.res, trace, ex.route, 'origin-saturated', ex.isHead)
        this.#deps.logger.warn({ url: ex.url, code: trace.error }, error.message)
        trace.bytes = deliverText(ex.res, error.status ?? 502, `${error.message}\n`, 'PASS', CACHE_STATUS.error, extraHeaders(trace) ?? undefined)
      })
  }

  /**
   * RFC 9111 §4.4: a successful unsafe request invalidates the URI's stored responses. Only one the origin answered
   * with a success: a shed answer (cacheOnly, shedPercent, origin saturation) never reached the origin, whatever
   * its status (a lite page may be a 200), and marking the page stale would send refreshes to an origin that
   * shedding is protecting.
   */
  #passUnsafe (ex: Exchange): void {
    const { res, trace, primaryKey } = ex
    res.once('finish', () => {
      if (trace.originStatus !== 0 && trace.originStatus < 400) this.#markStale(primaryKey).catch(noop)
    })
    this.#pass(ex, CACHE_STATUS.method)
  }

  #shed (res: ServerResponse, trace: Trace, route: CompiledRoute, reason: ShedReason, isHead: boolean): void {
    trace.xCache = 'SHED'
    trace.shed = reason
    this.#deps.metrics.sheds.labels(reason, route.match).inc()
    trace.bytes = deliverShed(res, route.answer, reason, isHead, extraHeaders(trace))
    limitSendStall(res, this.#deps.origin.timeoutMs)
  }

  /**
   * Invalidate by marking stale, not deleting (DESIGN §5): the next request revalidates through one coalesced fetch
   * and may still fall back on the old copy under stale-if-error; a delete would leave a burst nothing to stand on.
   * A Vary index is deleted instead (its variants cannot be enumerated; a new epoch orphans them).
   */
  async #markStale (primaryKey: string): Promise<void> {
    this.#hitForPass.delete(primaryKey)
    const { store } = this.#cache
    try {
      const found = store.get(primaryKey)
      const record = isPromise(found) ? await found : found
      if (record === undefined) return
      if (record.kind === 'vary') {
        await store.delete(primaryKey)
        return
      }
      const now = this.#deps.clock.now()
      const ttlMs = Math.max(1000, record.staleIfErrorUntil - now) + this.#settings.storeOptions.keepStaleSeconds * 1000
      await store.set(primaryKey, { ...record, freshUntil: now, staleWhileRevalidateUntil: now }, ttlMs)
    } catch (err) {
      this.#deps.logger.warn({ err }, 'store update failed')
    }
  }

  /** Drop a URL's entry (and, through its Vary index, every variant): the admin purge. */
  async invalidate (primaryKey: string): Promise<void> {
    this.#hitForPass.delete(primaryKey)
    try {
      await this.#cache.store.delete(primaryKey)
    } catch (err) {
      this.#deps.logger.warn({ err }, 'store delete failed')
    }
  }

  /** Purge by URL: absolute (`http://host/path?q`), or a path with the host given apart. */
  async invalidateUrl (url: string, host: string | undefined): Promise<string> {
    const { path, query, host: targetHost } = splitTarget(url)
    const keyOptions = this.#settings.keyOptions
    if (targetHost === undefined && host === undefined && keyOptions.includeHost) {
      throw new ConfigError('url', 'a path-only purge needs ?host=<host> (cache keys include the host), or give an absolute URL')
    }
    const key = makeCacheKey(targetHost ?? host, path, normalizeQuery(query, keyOptions), keyOptions)
    await this.invalidate(key)
    return key
  }

  #badRequest (res: ServerResponse, trace: Trace): void {
    trace.error = 'CORRAL_ERR_BAD_REQUEST'
    trace.bytes = deliverText(res, 400, 'bad request\n', null, null, ['connection', 'close'])
  }

  #health (res: ServerResponse): void {
    deliverText(res, this.draining ? 503 : 200, this.draining ? 'draining\n' : 'ok\n', null, null)
  }

  #fail (ex: Exchange, err: unknown): void {
    this.#failed(ex.res, ex.trace, ex.url, err)
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

/** A request target resolved for the settings in force (Pipeline.#resolve). */
interface ResolvedTarget {
  readonly rawUrl: string
  readonly host: string | undefined
  readonly settings: PipelineSettings
  readonly path: string
  readonly normalizedQuery: string
  readonly primaryKey: string
  readonly forwardUrl: string
  readonly route: CompiledRoute
}

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
