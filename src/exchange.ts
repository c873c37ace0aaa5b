/**
 * exchange: the pipeline's records: what it is built from and reads per config load, and the one request on its way
 * through it (the Exchange). Only the driver (pipeline.ts and its steps/) holds an Exchange: no stage below it does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Trace } from './core/trace.js'
import type { ShedLoad, ShedReason } from './shed.js'
import type { CompiledRoute, RouteTable } from './shed-routes.js'
import type { Target } from './key.js'
import type { StoredEntry, VaryIndex } from './core/entry.js'
import type { FillRequest } from './core/fill-request.js'
import { isCredentialed, type FillHeaderRules } from './core/origin-headers.js'
import type { CorralError } from './core/errors.js'
import type { MissOutcome, MissRoads } from './coalesce/outcome.js'
import type { NoAnswerCause } from './policy/origin-error.js'
import type { Answer } from './answer.js'
import type { LookupVerdict } from './policy/lookup.js'
import type { SingleFlight } from './coalesce/single-flight.js'
import type { FillPurge } from './purge/fill-purge.js'
import type { CacheStore } from './store/types.js'
import type { Clock } from './core/clock.js'
import type { Logger } from './core/log.js'
import type { Metrics } from './core/metrics.js'
import type { OriginClient } from './origin/types.js'
import type { StoreOptions } from './policy/storable.js'
import type { FleetLease } from './coalesce/lease.js'
import type { HitForPass } from './coalesce/hit-for-pass.js'
import type { Flags } from './config/flags.js'
import type { KeyOptions } from './key.js'
import type { CompressSettings } from './policy/compress.js'

/** Everything the pipeline reads from config, resolved once per config load (never per request). */
export interface PipelineSettings {
  readonly keyOptions: KeyOptions
  readonly storeOptions: StoreOptions
  readonly maxObjectBytes: number
  /** Which answer-shaping client fields fills drop or key by (core/headers.ts NOT_FORWARDED_ON_FILL). */
  readonly fillHeaders: FillHeaderRules
  readonly hitForPassMs: number
  readonly accessLog: boolean
  readonly routes: RouteTable
  readonly flags: Flags
  /** admin.token: a request carrying it in X-Corral-Debug gets its trace. Undefined: nothing is revealed. */
  readonly debugToken: string | undefined
  /** In-process waiters' deadline (origin.timeoutMs, plus the fleet's wait with memcached). */
  readonly waitTimeoutMs: number
  /** Take or make each request's X-Request-Id (core/request-id.ts): on with the access line that shows it. */
  readonly requestIds: boolean
  /** Response fields addressed to corral or surrogates (policy/targeted.ts), never delivered: Surrogate-Control, … */
  readonly removedBeforeDelivery: ReadonlySet<string>
  /** Cache tags and purge records for fills (purge/fill-purge.ts). */
  readonly fillPurge?: FillPurge | undefined
  /** cache.compress resolved (compress/settings.ts); undefined: off. */
  readonly compress?: CompressSettings | undefined
}

export interface PipelineDeps {
  readonly origin: OriginClient
  readonly clock: Clock
  readonly logger: Logger
  readonly metrics: Metrics
  /** Live load figures for shedding (origin saturation). */
  readonly load: ShedLoad
  /** URLs remembered as uncacheable; made by the wiring, shared with the purges that make a URL forgotten. */
  readonly hitForPass: HitForPass
}

/** The cache in force; swapped as a whole when the memcached settings change on reload. */
export interface PipelineCache {
  readonly store: CacheStore
  /** Fleet-wide coalescing through memcached leases; null with the embedded cache alone. */
  readonly fleet: FleetLease | null
}

/** The steps of pipeline.ts's table, and the two words that stop its loop (`park`: waiting on I/O). */
export type Step = 'recv' | 'lookup' | 'lookup-range' | 'variant' | 'decide' | 'hit' | 'stale' | 'miss' | 'bypass' | 'outcome' | 'pass' | 'fallback' | 'done' | 'park'

/** What a step reads of the driver: the deps, the config and cache in force, the coalescing state, and the loop. */
export interface Driver {
  readonly deps: PipelineDeps
  readonly settings: PipelineSettings
  readonly cache: PipelineCache
  readonly flight: SingleFlight
  readonly coalescer: MissRoads
  /** A parked step's continuation: the loop again, from the step it names. */
  resume (ex: Exchange, step: Step): void
  /** Something threw: one 500 for this request. */
  fail (ex: Exchange, err: unknown): void
}

/** A request target resolved for the settings in force, kept while requests repeat it. */
export interface ResolvedTarget extends Target {
  readonly rawUrl: string
  readonly host: string | undefined
  readonly settings: PipelineSettings
  readonly route: CompiledRoute
}

/**
 * A request in flight through the pipeline: one per request, fixed shape (an object literal from makeExchange, every
 * field present, so V8 keeps one hidden class and allocates it from a boilerplate). The steps read and write it; no
 * stage below the driver sees it.
 */
export interface Exchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly trace: Trace
  /** What the request names: path, normalised query, key, route, and the target a pass forwards. */
  readonly target: ResolvedTarget
  readonly isHead: boolean
  /** Set when shedding allows only cached answers: why. */
  readonly cacheOnly: ShedReason | null
  /** The key looked up: the primary key, or the variant key its Vary index names (computed once, at lookup). */
  key: string
  vary: VaryIndex | null
  /** What the lookup found (an expired one too: validators, a stand-in). */
  entry: StoredEntry | undefined
  /** The clock when the lookup was decided. */
  now: number
  /** The lookup verdict (policy/lookup.ts), or `bypass` for the Authorization road. */
  verdict: LookupVerdict | 'bypass'
  /** What the origin's roads keep of the request: null until it leaves the hit path (originRoad). */
  road: OriginRoad | null
}

/**
 * What the miss, pass and fallback steps keep of a request: apart from the Exchange so that a hit, which needs none
 * of it, does not allocate or initialise it (bench/hit-instructions.ts).
 */
export interface OriginRoad {
  /** The answer a pass gives (method, bypass, hit-for-pass). */
  answer: Answer
  /** Why the fallback step runs, and the origin's error if there was one. */
  cause: NoAnswerCause
  error: CorralError | null
  /** The miss: its fill request (made once, kept across a retry), its outcome, and how many waits it took. */
  fill: FillRequest | null
  outcome: MissOutcome | null
  rounds: number
}

/** The request's origin road, made the first time a step needs it. */
export function originRoad (ex: Exchange): OriginRoad {
  ex.road ??= { answer: 'method', cause: 'origin-error', error: null, fill: null, outcome: null, rounds: 0 }
  return ex.road
}

export function makeExchange (
  req: IncomingMessage, res: ServerResponse, trace: Trace, target: ResolvedTarget, isHead: boolean, cacheOnly: ShedReason | null
): Exchange {
  return {
    req,
    res,
    trace,
    target,
    isHead,
    cacheOnly,
    key: target.primaryKey,
    vary: null,
    entry: undefined,
    // A double from the start (epoch ms is no small integer): the field never changes representation.
    now: 0.5,
    verdict: 'miss',
    road: null
  }
}

/**
 * A fill is made once, from the request: the coalescer and the origin never see the client's connection. It carries
 * the client's headers as they are: only a leader builds origin headers from them (fill.ts makeOriginAsk).
 */
export function makeFillRequest (ex: Exchange): FillRequest {
  const { req, target } = ex
  const { headers } = req
  return {
    key: ex.key,
    primaryKey: target.primaryKey,
    varyIndex: ex.vary,
    path: target.normalizedQuery === '' ? target.path : `${target.path}?${target.normalizedQuery}`,
    client: { headers, address: req.socket.remoteAddress, keyHost: target.keyHost },
    stale: ex.entry,
    credentialed: isCredentialed(headers, target.settings.fillHeaders),
    group: target.route.origin
  }
}

/** Nothing from the origin for this request (shedding keeps it away, or it failed): the fallback step answers. */
export function noAnswer (ex: Exchange, cause: NoAnswerCause, error: CorralError | null): Step {
  const road = originRoad(ex)
  road.cause = cause
  road.error = error
  return 'fallback'
}

/** The origin failed, timed out or is saturated: counted, then the fallback step answers. */
export function originFailed (d: Driver, ex: Exchange, error: CorralError): Step {
  // The client left and its origin request was aborted (client-gone.ts): nobody to answer, nothing against the origin.
  if (error.code === 'CORRAL_ERR_CLIENT_GONE') {
    ex.trace.error = error.code
    return 'done'
  }
  d.deps.metrics.originErrors.labels(error.code).inc()
  return noAnswer(ex, error.code === 'CORRAL_ERR_ORIGIN_BUSY' ? 'origin-busy' : 'origin-error', error)
}
