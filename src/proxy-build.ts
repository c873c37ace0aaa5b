/**
 * proxy-build: the parts a config makes: the pipeline's settings, the cache (L1, memcached, fleet leases), the purge
 * channel, the origin limiter's options. Called at start and again by a reload for whatever it must replace.
 */
import type { Config } from './config/types.js'
import type { LoadedConfig } from './config/load.js'
import type { CacheStore } from './store/types.js'
import { MemoryStore } from './store/memory.js'
import { MemcachedStore } from './store/memcached.js'
import { TieredStore } from './store/tiered.js'
import { FleetLease } from './coalesce/lease.js'
import { SideStreams } from './coalesce/fleet-stream.js'
import type { OriginLimiter } from './origin/limit.js'
import type { Metrics } from './core/metrics.js'
import type { Logger } from './core/log.js'
import { systemClock, type Clock } from './core/clock.js'
import type { PipelineCache, PipelineSettings } from './exchange.js'
import { makeKeyOptions } from './key.js'
import { fieldsRemovedBeforeDelivery, makeTargetList } from './policy/targeted.js'
import { makeFillHeaderRules } from './core/origin-headers.js'
import { makeCookieRules } from './core/cookies.js'
import { compileRoutes } from './shed-routes.js'
import { resolveFlags } from './config/flags.js'
import type { BanList, BanRecord } from './purge/bans.js'
import { ScreenedStore } from './purge/screened-store.js'
import { makeFillPurge } from './purge/fill-purge.js'
import { PurgeChannel } from './purge/fleet.js'
import { REPLACED } from './core/make-entry.js'
import { usesMemcached } from './proxy-reload.js'
import { makeCompressSettings } from './compress/settings.js'
import { countChunks } from './store/chunk-metrics.js'

/**
 * Response fields never delivered: those addressed to corral or surrogates (policy/targeted.ts) and, when configured,
 * the cache-tag headers. Stored entries lose the tags at store time already; this also takes them off answers that
 * are relayed without being stored (passes, uncacheable fills).
 */
function deliveryStrip (config: Config): ReadonlySet<string> {
  const strip = new Set(fieldsRemovedBeforeDelivery(makeTargetList(config.cache.targetedFields)))
  if (config.cache.tags.removeFromResponse) for (const name of config.cache.tags.headers) strip.add(name.toLowerCase())
  return strip
}

export function makeSettings (loaded: LoadedConfig, cache: PipelineCache, bans?: BanList): PipelineSettings {
  const { config } = loaded
  const { tags, purge } = config.cache
  return {
    fillPurge: bans === undefined
      ? undefined
      : makeFillPurge({ headers: tags.headers.map((h) => h.toLowerCase()), removeFromResponse: tags.removeFromResponse }, bans, purge.recordTtlSeconds * 1000, REPLACED),
    keyOptions: makeKeyOptions(config),
    storeOptions: {
      graceSeconds: config.cache.graceSeconds,
      staleIfErrorSeconds: config.cache.staleIfErrorSeconds,
      heuristicFraction: config.cache.heuristicFraction,
      storeSetCookie: config.cache.storeSetCookie,
      targetedFields: makeTargetList(config.cache.targetedFields),
      keepStaleSeconds: config.cache.keepStaleSeconds
    },
    maxObjectBytes: config.cache.maxObjectBytes,
    compress: makeCompressSettings(config.cache.compress),
    fillHeaders: makeFillHeaderRules(config.cache.forwardRequestHeaders, {
      dropUnderscore: config.cache.dropUnderscoreHeaders,
      credentialHeaders: config.cache.credentialHeaders,
      cookies: makeCookieRules(config.cache.requestCookies, config.cache.ignoredCookies)
    }),
    hitForPassMs: config.cache.hitForPassSeconds * 1000,
    accessLog: config.log.access,
    requestIds: config.log.access,
    removedBeforeDelivery: deliveryStrip(config),
    routes: compileRoutes(loaded),
    flags: resolveFlags(config),
    debugToken: config.admin.token,
    // In-process waiters wait as long as the fleet's follower does, so a fleet wait never strands them early.
    waitTimeoutMs: cache.fleet === null ? config.origin.timeoutMs : cache.fleet.options.waitMs + 100
  }
}

/** The built cache plus the memcached client under it (null with the embedded cache alone), for rebuilding the lease. */
export interface BuiltCache extends PipelineCache {
  readonly l2: MemcachedStore | null
  /** l2 as reads see it, through the purge records. */
  readonly shared?: CacheStore
}

/**
 * The embedded cache alone, or L1 in front of memcached with fleet leases. memcached errors become metrics (and a
 * debug line), never a client error; a node going down and coming back is one log line each.
 */
export function makeCache (config: Config, metrics: Metrics, logger: Logger, clock: Clock, bans?: BanList): BuiltCache {
  const { memory, memcached } = config.cache
  if (!usesMemcached(config)) {
    return { store: new MemoryStore({ maxBytes: memory.maxBytes }), fleet: null, l2: null }
  }
  const l2 = new MemcachedStore({
    servers: memcached.servers,
    timeoutMs: memcached.timeoutMs,
    retryDownMs: memcached.retryDownMs,
    prefix: memcached.prefix,
    maxItemBytes: memcached.maxItemBytes,
    probeDownNodes: true,
    onError: (server, op, err) => {
      metrics.memcachedErrors.labels(server, op).inc()
      logger.debug({ server, op, reason: (err as Error).message }, 'memcached operation failed')
    },
    onSkip: (reason) => metrics.memcachedSkips.labels(reason).inc(),
    onChunks: (event, bytes) => { countChunks(metrics, event, bytes) },
    // One line each way per node and outage, however many operations were in flight when it went.
    onNodeDown: (server, reason) => {
      logger.warn({ server, reason, retryDownMs: memcached.retryDownMs }, 'memcached node down: skipped until it answers; L1 serves entries for their own lifetime meanwhile')
    },
    onNodeUp: (server, downMs) => { logger.info({ server, downMs }, 'memcached node back up') }
  })
  // Every entry read from memcached goes through the purge records (purge/screened-store.ts): L1's fills and a fleet
  // follower's polls alike, so neither hands out a page purged by tag or prefix.
  const shared = bans === undefined ? l2 : new ScreenedStore(l2, bans)
  const store = new TieredStore({ l1: { maxBytes: memory.maxBytes, maxTtlMs: memory.maxTtlSeconds * 1000 }, l2: shared, clock })
  return { store, fleet: makeFleet(config, l2, metrics, logger, shared), l2, shared }
}

/** Fleet leases on `l2`: rebuilt alone when only origin.timeoutMs or leaseTtlMs change, keeping the store (and L1). */
export function makeFleet (config: Config, l2: MemcachedStore, metrics: Metrics, logger: Logger, shared: CacheStore = l2): FleetLease {
  const leaseTtlMs = config.cache.memcached.leaseTtlMs ?? config.origin.timeoutMs
  return new FleetLease({
    leases: l2,
    shared,
    leaseTtlMs,
    // A follower outwaits the lease (a dead leader's lease expires first; memcached may keep it up to a second
    // longer, store/expiry.ts rounds up), then a takeover's own fetch.
    waitMs: leaseTtlMs + 1000 + config.origin.timeoutMs,
    now: systemClock.now,
    // A large fill streams to followers on other proxies as it arrives, bounded as the fill itself is.
    streams: new SideStreams(l2.side, config.origin.fillBodyTimeoutMs, systemClock.now, config.cache.maxObjectBytes, (event, bytes) => {
      metrics.fleetStreams.labels(event).inc()
      if (bytes > 0) metrics.fleetStreamBytes.labels(event === 'publish-failed' ? 'published' : event === 'follow-failed' ? 'followed' : event).inc(bytes)
    }),
    onLease: (result, key) => {
      metrics.leases.labels(result).inc()
      if (logger.isLevelEnabled('debug')) logger.debug({ key, result }, 'fleet lease')
    }
  })
}

/**
 * How long a cache replaced by a reload stays open: until the last request that started on it is done. A follower
 * polling a fleet lease can wait `waitMs`; closing its store under it would read as "memcached unavailable", a
 * takeover, and one more origin fetch per waiting process, during what is often a slow-origin incident.
 */
export function retiredCacheCloseDelayMs (cache: PipelineCache): number {
  return (cache.fleet?.options.waitMs ?? 0) + 5000
}

export function memoryTier (store: CacheStore): MemoryStore | undefined {
  if (store instanceof MemoryStore) return store
  if (store instanceof TieredStore) return store.l1
  return undefined
}

/** Purge records through memcached (purge/fleet.ts); null with the embedded cache alone. */
export function makePurgeChannel (config: Config, logger: Logger, purger: { apply (records: readonly BanRecord[]): number }): PurgeChannel | null {
  if (!usesMemcached(config)) return null
  const { servers, prefix, timeoutMs } = config.cache.memcached
  const { pollIntervalMs, recordTtlSeconds } = config.cache.purge
  return new PurgeChannel({
    servers,
    prefix,
    pollMs: pollIntervalMs,
    recordTtlSeconds,
    // A poll is off the request path: it may wait longer than a request's memcached budget.
    timeoutMs: Math.max(timeoutMs, 500),
    logger,
    onRecords: (records) => {
      const touched = purger.apply(records)
      logger.info({ records: records.length, touched }, 'purge records applied')
    }
  })
}

export function limiterOptions (config: Config, adaptive: boolean): ConstructorParameters<typeof OriginLimiter>[0] {
  const { maxInFlight, queueSize, queueTimeoutMs } = config.origin
  return { maxInFlight, queueSize, queueTimeoutMs, adaptive }
}
