/**
 * The pipeline's records: what it is built from and reads per config load, and the one request on its way through it
 * (the Exchange). Only the pipeline holds an Exchange: no stage below the driver sees it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Trace } from './core/trace.js'
import type { CompiledRoute, RouteTable, ShedLoad, ShedReason } from './shed.js'
import type { Target } from './key.js'
import type { StoredEntry, VaryIndex } from './core/entry.js'
import type { FillRequest } from './fill.js'
import { dropAnswerShaping, makeOriginHeaders, type FillHeaderRules } from './core/headers.js'
import type { FillPurge } from './purge/fill-purge.js'
import { hasCredentials, makeCredentialFields } from './core/header-names.js'
import type { CacheStore } from './store/types.js'
import type { Clock } from './core/clock.js'
import type { Logger } from './core/log.js'
import type { Metrics } from './core/metrics.js'
import type { OriginClient } from './origin/fetch.js'
import type { StoreOptions } from './policy/storable.js'
import type { FleetLease } from './coalesce/lease.js'
import type { Flags } from './config/flags.js'
import type { KeyOptions } from './key.js'

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
}

export interface PipelineDeps {
  readonly origin: OriginClient
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

/** A request target resolved for the settings in force, kept while requests repeat it. */
export interface ResolvedTarget extends Target {
  readonly rawUrl: string
  readonly host: string | undefined
  readonly settings: PipelineSettings
  readonly route: CompiledRoute
}

/** A request in flight through the pipeline. One per request, fixed shape. */
export interface Exchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly trace: Trace
  /** What the request names: path, normalised query, key, and the target a pass forwards. */
  readonly target: Target
  readonly route: CompiledRoute
  readonly isHead: boolean
  /** Set when shedding allows only cached answers: why. */
  readonly cacheOnly: ShedReason | null
}

/** A fill is made once, from the request: the coalescer and the origin never see the client's connection. */
export function makeFillRequest (
  ex: Exchange, key: string, varyIndex: VaryIndex | null, stale: StoredEntry | undefined, rules: FillHeaderRules
): FillRequest {
  const { req, target } = ex
  const { headers } = req
  const originHeaders = makeOriginHeaders(headers, req.socket.remoteAddress, 'fill', target.keyHost)
  // Answer-shaping fields the answer does not vary on are not sent, and the variant is keyed without them.
  const requestHeaders = dropAnswerShaping(originHeaders, headers, rules, varyIndex?.varyHeaders ?? null)
  return {
    key,
    primaryKey: target.primaryKey,
    varyIndex,
    path: target.normalizedQuery === '' ? target.path : `${target.path}?${target.normalizedQuery}`,
    originHeaders,
    requestHeaders,
    stale,
    // What the origin is sent: ignored cookies and underscore names are gone, so they cannot make a request credentialed.
    credentialed: hasCredentials(requestHeaders, rules.credentials ?? BUILT_IN_CREDENTIALS),
    group: ex.route.origin
  }
}

const BUILT_IN_CREDENTIALS = makeCredentialFields([])
