/**
 * pipeline: the driver, as a table of steps (Varnish's cache_req_fsm.c REQ_STEPS). Each step is one method: it does its
 * work and names the next step; #run loops until `done`, or `park` when a step waits on I/O (the continuation runs
 * the loop again from the step it names). A plain memory hit runs accept → lookup → decide → hit synchronously.
 *
 *   step      in               does                                             next
 *   accept    (here)           resolve the target (key.ts), shed (shed.ts)     recv | done (health, 400, shed)
 *   recv      steps/lookup.ts  method, credentials, Range pick the road         lookup | lookup-range | bypass | pass | fallback
 *   lookup    steps/lookup.ts  store.get(primary key)              [may park]  variant (a Vary index) | decide
 *   lookup-range               the same for a Range: of an entry in memcached chunks, only the chunks it needs
 *   variant   steps/lookup.ts  store.get(variant key, made once)   [may park]  decide
 *   decide    steps/lookup.ts  one LookupVerdict (policy/lookup.ts)            hit | stale | miss | fallback | done
 *   hit       steps/lookup.ts  the fresh entry, synchronously                  done
 *   stale     steps/lookup.ts  the stale entry, and one background refresh     done
 *   miss      steps/miss.ts    lead (miss), wait (busy), alone (hit-for-pass)  outcome (parks) | pass
 *   bypass    steps/miss.ts    Authorization: a fill of its own       [parks]  outcome
 *   outcome   steps/miss.ts    MissOutcome → an answer row (answer.ts)         done | pass | decide (retry) | fallback
 *   pass      steps/origin.ts  forward to the origin, relay           [parks]  done | fallback
 *   fallback  steps/origin.ts  no answer (policy/origin-error.ts)              done: stale, shed or error
 */
import { performance } from 'node:perf_hooks'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { writeAccessLine } from './core/log.js'
import { answerAsteriskForm } from './asterisk-form.js'
import { healthText } from './origin/up-count.js'
import { SingleFlight } from './coalesce/single-flight.js'
import { Coalescer } from './coalesce/miss.js'
import type { FillContext } from './fill.js'
import { HostNormalizer, pathOf, resolveTarget } from './key.js'
import { decideShed } from './shed.js'
import { matchRoute } from './shed-routes.js'
import { deliverText } from './deliver.js'
import { dropConnectionListed } from './core/headers.js'
import { assertNever, errorCode } from './core/errors.js'
import { tokenMatches } from './core/admin-token.js'
import { Trace, extraHeaders, finishOnClose, type TraceSink } from './core/trace.js'
import { identifyRequest } from './core/request-id.js'
import { makeExchange, type Driver, type Exchange, type PipelineCache, type PipelineDeps, type PipelineSettings, type ResolvedTarget, type Step } from './exchange.js'
import { decide, hit, lookup, lookupRange, recv, stale, variant } from './steps/lookup.js'
import { bypass, miss, outcome } from './steps/miss.js'
import { fallback, pass } from './steps/origin.js'
import { shed } from './steps/respond.js'

export type { PipelineCache, PipelineDeps, PipelineSettings } from './exchange.js'

export const HEALTH_PATH = '/__corral/health'
/** A target starting with `*`: asterisk-form, or no form at all (asterisk-form.ts). */
const ASTERISK = 42

export class Pipeline implements TraceSink, Driver {
  readonly deps: PipelineDeps
  readonly flight: SingleFlight
  readonly coalescer: Coalescer
  readonly #hosts = new HostNormalizer()
  #lastTarget: ResolvedTarget | null = null
  #cache: PipelineCache
  #settings: PipelineSettings
  draining = false

  constructor (deps: PipelineDeps, cache: PipelineCache, settings: PipelineSettings) {
    this.deps = deps
    this.#cache = cache
    this.#settings = settings
    this.flight = new SingleFlight(settings.waitTimeoutMs)
    this.coalescer = new Coalescer({ flight: this.flight, hitForPass: deps.hitForPass, metrics: deps.metrics, logger: deps.logger }, this.#fillContext(), cache.fleet)
  }

  /** Hot reload: the next request reads the new settings. */
  apply (settings: PipelineSettings): void {
    this.#settings = settings
    this.flight.waitTimeoutMs = settings.waitTimeoutMs
    this.deps.hitForPass.ttlMs = settings.hitForPassMs
    this.coalescer.use(this.#fillContext(), this.#cache.fleet)
  }

  /** Swap the cache (memcached switched on or off, servers changed). In-flight requests finish on the old one. */
  useCache (cache: PipelineCache): void {
    this.#cache = cache
    this.coalescer.use(this.#fillContext(), cache.fleet)
  }

  get cache (): PipelineCache {
    return this.#cache
  }

  get settings (): PipelineSettings {
    return this.#settings
  }

  #fillContext (): FillContext {
    const { origin, clock, logger, metrics } = this.deps
    const { storeOptions, maxObjectBytes, fillHeaders, fillPurge, compress } = this.#settings
    const compressing = compress === undefined ? undefined : { settings: compress, meter: metrics.compress, logger }
    return { origin, store: this.#cache.store, now: () => clock.now(), storeOptions, maxObjectBytes, fillHeaders, logger, purge: fillPurge, compress: compressing }
  }

  handle (req: IncomingMessage, res: ServerResponse): void {
    // A new trace per request, not a reused one: a reused trace lives in the old generation, and every young value
    // stored into it (the key, the route) took a write barrier, which cost more than the allocation (--perf).
    const trace = new Trace(performance.now(), this)
    try {
      const ex = this.#accept(req, res, trace)
      // recv picks the road before the loop starts: a plain hit pays one turn of the loop fewer.
      if (ex !== null) this.#run(ex, recv(ex))
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

  /** The driver loop and its table, one case per step: no closure and no allocation of its own. */
  #run (ex: Exchange, first: Step): void {
    let step = first
    for (;;) {
      switch (step) {
        case 'lookup': step = lookup(this, ex); break
        case 'decide': step = decide(this, ex); break
        case 'hit': step = hit(this, ex); break
        case 'variant': step = variant(this, ex); break
        case 'lookup-range': step = lookupRange(this, ex); break
        case 'recv': step = recv(ex); break
        case 'stale': step = stale(this, ex); break
        case 'miss': step = miss(this, ex); break
        case 'bypass': step = bypass(this, ex); break
        case 'outcome': step = outcome(this, ex); break
        case 'pass': step = pass(this, ex); break
        case 'fallback': step = fallback(this, ex); break
        case 'done':
        case 'park':
          return
        default: return assertNever(step)
      }
    }
  }

  resume (ex: Exchange, step: Step): void {
    try {
      this.#run(ex, step)
    } catch (err) {
      this.fail(ex, err)
    }
  }

  #accept (req: IncomingMessage, res: ServerResponse, trace: Trace): Exchange | null {
    const settings = this.#settings
    const rawUrl = req.url ?? '/'
    const host = req.headers.host
    // resolve: a pure function of URL, Host and settings, so the last answer is kept while requests repeat them (a
    // spike is one URL): a key rebuilt per request is a fresh string the LRU hashes in full (bench/micro.ts).
    let target = this.#lastTarget
    if (target === null || target.rawUrl !== rawUrl || target.host !== host || target.settings !== settings) {
      // Asterisk-form names the server, not a page (asterisk-form.ts); load balancer probes would drown the access
      // log: both are answered here, neither logged nor counted.
      if (rawUrl.charCodeAt(0) === ASTERISK) return this.#untraced(trace, answerAsteriskForm(res, rawUrl))
      if (pathOf(rawUrl) === HEALTH_PATH) return this.#untraced(trace, deliverText(res, this.draining ? 503 : 200, this.draining ? 'draining\n' : healthText(this.deps.origin.report?.() ?? {}), null, null))
      const resolved = resolveTarget(rawUrl, host, settings.keyOptions, this.#hosts)
      if (resolved === null) {
        trace.error = 'CORRAL_ERR_BAD_REQUEST'
        trace.bytes = deliverText(res, 400, 'bad request\n', null, null, ['connection', 'close'])
        return null
      }
      target = { ...resolved, rawUrl, host, settings, route: matchRoute(settings.routes, resolved.path, resolved.keyHost) }
      this.#lastTarget = target
    }
    const { route } = target
    if (req.headers.connection !== undefined) dropConnectionListed(req.headers)
    if (settings.requestIds) identifyRequest(trace, req.headers)
    if (req.headers['x-corral-debug'] !== undefined && settings.debugToken !== undefined) {
      trace.debug = tokenMatches(settings.debugToken, String(req.headers['x-corral-debug']))
    }
    // shed: decided before any cache or origin work.
    trace.route = route.match
    const decision = decideShed(route, settings.flags, this.deps.load)
    if (decision.action === 'reject') return shed(this, res, trace, route, decision.reason, req.method === 'HEAD')
    trace.key = target.primaryKey
    return makeExchange(req, res, trace, target, req.method === 'HEAD', decision.action === 'cache-only' ? decision.reason : null)
  }

  #untraced (trace: Trace, _: unknown): null {
    trace.done = true
    return null
  }

  fail (ex: Exchange, err: unknown): void {
    this.#failed(ex.res, ex.trace, ex.target.forwardUrl, err)
  }

  #failed (res: ServerResponse, trace: Trace, url: string | undefined, err: unknown): void {
    this.deps.logger.error({ err, url }, 'internal error')
    trace.error = errorCode(err)
    trace.bytes = deliverText(res, 500, 'internal error\n', 'MISS', null, extraHeaders(trace) ?? undefined)
  }

  /** One access line and the request metrics, when the response is done (or the client left). */
  finish (trace: Trace, res: ServerResponse): void {
    const ms = performance.now() - trace.start
    const xCache = trace.xCache ?? 'ERROR'
    this.deps.metrics.requests.record(xCache, ms / 1000, res.statusCode)
    if (this.#settings.accessLog) writeAccessLine(this.deps.logger, trace, res, ms, this.#settings.flags.trace)
  }
}
