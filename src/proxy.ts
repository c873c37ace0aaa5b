/**
 * proxy: wiring only. Builds the cache, the origin pool, the pipeline and the two listeners from a config, and swaps
 * settings in on reload. No request logic lives here.
 */
import type { Server } from 'node:http'
import { isDeepStrictEqual } from 'node:util'
import type { Config, LogFormat } from './config/types.js'
import { assertAdminTokenForBoundHost, type LoadedConfig } from './config/load.js'
import type { CacheStore } from './store/types.js'
import { MemoryStore } from './store/memory.js'
import { MemcachedStore } from './store/memcached.js'
import { TieredStore } from './store/tiered.js'
import { FleetLease } from './coalesce/lease.js'
import { Origin } from './origin/fetch.js'
import { OriginLimiter } from './origin/limit.js'
import { Metrics } from './core/metrics.js'
import { makeLogger, type Logger } from './core/log.js'
import { systemClock, type Clock } from './core/clock.js'
import { Pipeline, type PipelineCache, type PipelineSettings } from './pipeline.js'
import { makeKeyOptions } from './key.js'
import { fieldsRemovedBeforeDelivery, makeTargetList } from './policy/targeted.js'
import { makeFillHeaderRules } from './core/headers.js'
import { makeCookieRules } from './core/cookies.js'
import { compileRoutes } from './shed.js'
import { diffConfig, diffFlags, flagsRecord, resolveFlags } from './config/flags.js'
import { logRejectedEdit, watchConfig, type ConfigWatcher } from './config/watch.js'
import { drainServer, holdBeforeDrain, listenOn, makeServer } from './receive.js'
import { isoRejected, makeAdminServer, type FlagsReport } from './ops/admin.js'
import { BanList } from './purge/bans.js'
import { ScreenedStore } from './purge/screened-store.js'
import { makeFillPurge } from './purge/fill-purge.js'
import { PurgeChannel } from './purge/fleet.js'
import { Purger } from './purge/purger.js'
import type { PurgeOrder, PurgeReport } from './purge/order.js'
import { REPLACED } from './fill.js'

export interface ProxyOptions {
  readonly logger?: Logger
  readonly clock?: Clock
  /** Replace the cache store (tests); by default built from config.cache. */
  readonly store?: CacheStore
  /** Watch this file and apply valid edits (and `reload()` on SIGHUP). */
  readonly configPath?: string
  /** false: no admin listener (cluster workers; the primary runs it). */
  readonly admin?: boolean
  /** `corral serve --log-format`, over log.format. */
  readonly logFormat?: LogFormat
}

export interface Proxy {
  readonly pipeline: Pipeline
  readonly metrics: Metrics
  readonly logger: Logger
  readonly loaded: LoadedConfig
  listen (): Promise<{ port: number, adminPort: number }>
  /** Apply a new config (hot reload). Listener addresses and pool size need a restart; origin servers do not. */
  apply (next: LoadedConfig): void
  /** Re-read the config file now (SIGHUP). */
  reload (): void
  /** An operator's purge (admin /purge); `publish: false` applies it here only (a cluster worker that does not publish). */
  purge (order: PurgeOrder, publish?: boolean): Promise<PurgeReport>
  /**
   * SIGTERM: health turns 503 (for `drainDelayMs` while still serving), stop accepting, finish in-flight requests
   * (bounded by `graceMs`), close.
   */
  close (graceMs?: number, drainDelayMs?: number): Promise<void>
}

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

/** Keys whose new value is only read at start. */
const RESTART_KEYS = /^(listen\.|admin\.(host|port)$|origin\.connections$|workers$)/

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

function usesMemcached (config: Config): boolean {
  return config.cache.memcached.enabled && config.cache.memcached.servers.length > 0
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
function makeFleet (config: Config, l2: MemcachedStore, metrics: Metrics, logger: Logger, shared: CacheStore = l2): FleetLease {
  const leaseTtlMs = config.cache.memcached.leaseTtlMs ?? config.origin.timeoutMs
  return new FleetLease({
    leases: l2,
    shared,
    leaseTtlMs,
    // A follower outwaits the lease (a dead leader's lease expires first; memcached may keep it up to a second
    // longer, store/memcached.ts rounds up), then a takeover's own fetch.
    waitMs: leaseTtlMs + 1000 + config.origin.timeoutMs,
    now: systemClock.now,
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

function memoryTier (store: CacheStore): MemoryStore | undefined {
  if (store instanceof MemoryStore) return store
  if (store instanceof TieredStore) return store.l1
  return undefined
}

/**
 * What the store is built from: a change here replaces it (and empties L1). The embedded store reads only
 * memory.maxBytes; memcached's settings count only while memcached is in use.
 */
function storeShape (config: Config): unknown {
  const { memory, memcached } = config.cache
  if (!usesMemcached(config)) return { memcached: false, maxBytes: memory.maxBytes }
  const { servers, timeoutMs, retryDownMs, prefix, maxItemBytes } = memcached
  return { memcached: { servers, timeoutMs, retryDownMs, prefix, maxItemBytes }, memory }
}

/** What the fleet lease is built from (with memcached): a change here replaces the lease only. */
function fleetShape (config: Config): unknown {
  return { leaseTtlMs: config.cache.memcached.leaseTtlMs, timeoutMs: config.origin.timeoutMs }
}

function memcachedNodesReport (l2: MemcachedStore): NonNullable<FlagsReport['memcachedNodes']> {
  return l2.nodeStates().map(({ server, up, downSince, errors }) => ({
    server,
    state: up ? 'up' : 'down',
    downSince: downSince === null ? null : new Date(downSince).toISOString(),
    errors
  }))
}

/** What the purge channel is built from: the purge keys' node and namespace, and the poll. */
function channelShape (config: Config): unknown {
  if (!usesMemcached(config)) return null
  const { servers, prefix, timeoutMs } = config.cache.memcached
  return { servers, prefix, timeoutMs, purge: config.cache.purge }
}

/** Purge records through memcached (purge/fleet.ts); null with the embedded cache alone. */
function makePurgeChannel (config: Config, logger: Logger, purger: Purger): PurgeChannel | null {
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

function noop (): void {}

function limiterOptions (config: Config, adaptive: boolean): ConstructorParameters<typeof OriginLimiter>[0] {
  const { maxInFlight, queueSize, queueTimeoutMs } = config.origin
  return { maxInFlight, queueSize, queueTimeoutMs, adaptive }
}

export function createProxy (initial: LoadedConfig, options: ProxyOptions = {}): Proxy {
  let loaded = initial
  let loadedAt = Date.now()
  const config = initial.config
  const logger = options.logger ?? makeLogger(config.log.level, undefined, options.logFormat ?? config.log.format)
  const clock = options.clock ?? systemClock
  const metrics = new Metrics()
  const bans = new BanList(config.cache.purge.softStaleSeconds * 1000)
  let cache: BuiltCache = options.store !== undefined ? { store: options.store, fleet: null, l2: null } : makeCache(config, metrics, logger, clock, bans)
  let settings = makeSettings(initial, cache, bans)
  const limiter = new OriginLimiter(limiterOptions(config, settings.flags.adaptiveConcurrency))
  // Health deadlines and back-off timers run on the real clock: a test's frozen clock would never end a back-off.
  const origin = new Origin(config, limiter, { logger, metrics, observe: (ms) => metrics.originDuration.observe(ms / 1000) })
  const load = { get originSaturated () { return limiter.saturated } }
  const pipeline = new Pipeline({ origin, clock, logger, metrics, load }, cache, settings)
  const server: Server = makeServer(config.listen, (req, res) => pipeline.handle(req, res), logger)
  // Gauges read on scrape, never on the request path.
  metrics.sources.memoryCacheBytes = () => memoryTier(cache.store)?.calculatedSize ?? 0
  metrics.sources.memoryCacheEntries = () => memoryTier(cache.store)?.size ?? 0
  metrics.sources.originInFlight = () => limiter.inFlight
  metrics.sources.memcachedNodes = () => cache.l2?.nodeStates() ?? []
  metrics.sources.originServers = () => Object.entries(origin.report()).flatMap(([group, servers]) => servers.map((s) => [group, s.url, s.state === 'up'] as const))
  metrics.sources.flags = () => settings.flags.switches
  metrics.sources.config = () => ({ version: loaded.version, loadedAt, rejected: watcher?.status().rejected != null })
  let watcher: ConfigWatcher | null = null
  const purger = new Purger({
    bans,
    metrics,
    logger,
    now: () => clock.now(),
    memory: () => memoryTier(cache.store),
    deleteKey: async (key) => await pipeline.invalidate(key),
    keyOptions: () => settings.keyOptions,
    recordTtlMs: () => loaded.config.cache.purge.recordTtlSeconds * 1000
  })
  let channel = options.store === undefined ? makePurgeChannel(config, logger, purger) : null
  purger.useChannel(channel)

  const apply = (next: LoadedConfig): void => {
    // Before anything changes: a refused edit (the watcher reports it) leaves the last good config in force. Checked in
    // cluster workers too (admin: false), against the host their primary's listener is bound to, so the whole group
    // refuses the same edit.
    assertAdminTokenForBoundHost(config.admin.host, next.config)
    const prev = loaded
    const prevFlags = settings.flags
    const before = cache
    if (options.store === undefined && !isDeepStrictEqual(storeShape(prev.config), storeShape(next.config))) {
      const old = cache
      cache = makeCache(next.config, metrics, logger, clock, bans)
      pipeline.useCache(cache)
      // Requests already on the old cache finish there; then its connections close.
      setTimeout(() => { old.store.close().catch(() => {}) }, retiredCacheCloseDelayMs(old)).unref()
    } else if (cache.l2 !== null && !isDeepStrictEqual(fleetShape(prev.config), fleetShape(next.config))) {
      // Same store, same L1: only the lease's timings change. Requests already waiting finish on the old lease.
      cache = { ...cache, fleet: makeFleet(next.config, cache.l2, metrics, logger, cache.shared) }
      pipeline.useCache(cache)
    }
    if (options.store === undefined && !isDeepStrictEqual(channelShape(prev.config), channelShape(next.config))) {
      channel?.close()
      channel = makePurgeChannel(next.config, logger, purger)
      purger.useChannel(channel)
      channel?.start().catch(noop)
    }
    bans.softStaleMs = next.config.cache.purge.softStaleSeconds * 1000
    settings = makeSettings(next, cache, bans)
    loaded = next
    loadedAt = Date.now()
    // Groups first: a route compiled into the new settings may name a group the old config did not have.
    origin.update(next.config)
    pipeline.apply(settings)
    limiter.update(limiterOptions(next.config, settings.flags.adaptiveConcurrency))
    logger.level = next.config.log.level
    const changes = diffConfig(prev.config, next.config)
    const flags = diffFlags(prevFlags, settings.flags)
    metrics.configReloads.labels('applied').inc()
    logger.info({ version: next.version, previous: prev.version, flags, changes }, 'config applied')
    for (const change of flags) logger.info(change, 'flag changed')
    if (logger.isLevelEnabled('debug')) logger.debug({ version: next.version, store: cache.store === before.store ? 'kept' : 'replaced', fleet: cache.fleet === before.fleet ? 'kept' : 'replaced' }, 'reload decisions')
    const needRestart = changes.filter((c) => RESTART_KEYS.test(c.key)).map((c) => c.key)
    if (needRestart.length > 0) logger.warn({ keys: needRestart }, 'these keys take effect on restart only')
  }

  const flagsReport = (): FlagsReport => ({
    version: loaded.version,
    loadedAt: new Date(loadedAt).toISOString(),
    file: options.configPath ?? null,
    rejected: isoRejected(watcher?.status().rejected ?? null),
    flags: flagsRecord(settings.flags),
    routes: settings.routes.routes.map((r) => ({ match: r.match, priority: r.priority, flag: r.flag })),
    origin: { inFlight: limiter.inFlight, queued: limiter.queued, limit: Number.isFinite(limiter.limit) ? limiter.limit : null },
    memcached: cache.fleet === null ? 'off' : loaded.config.cache.memcached.servers,
    memcachedNodes: cache.l2 === null ? 'off' : memcachedNodesReport(cache.l2),
    origins: origin.report()
  })

  const admin: Server | null = options.admin === false
    ? null
    : makeAdminServer({
      metricsText: async () => await metrics.registry.metrics(),
      logger,
      token: () => loaded.config.admin.token,
      isDraining: () => pipeline.draining,
      flags: flagsReport,
      purge: async (order) => await purger.purge(order)
    })

  return {
    pipeline,
    metrics,
    logger,
    get loaded () { return loaded },
    async listen () {
      // Before serving: the purge records still alive, or a restarted proxy would serve purged pages from memcached.
      await channel?.start()
      const port = await listenOn(server, config.listen.host, config.listen.port)
      const adminPort = admin === null ? 0 : await listenOn(admin, config.admin.host, config.admin.port)
      if (options.configPath !== undefined) {
        watcher = watchConfig(options.configPath, {
          // The config in force, which is not `initial` when a cluster worker applied its primary's newer one first.
          initial: loaded,
          onApply: apply,
          onReject: (err) => {
            metrics.configReloads.labels('rejected').inc()
            logRejectedEdit(logger, err, options.configPath)
          }
        })
      }
      const origins = Object.fromEntries(Object.entries(origin.report()).map(([group, servers]) => [group, servers.map((s) => s.url)]))
      logger.info({ port, adminPort, origins, version: loaded.version, memcached: cache.fleet !== null }, 'listening')
      return { port, adminPort }
    },
    apply,
    reload () {
      watcher?.reload()
    },
    async purge (order, publish = true) {
      return await purger.purge(order, publish)
    },
    async close (graceMs = 10_000, drainDelayMs = 0) {
      if (pipeline.draining) return
      pipeline.draining = true
      watcher?.close()
      channel?.close()
      // Health says 503 from here on, while requests are still served: a balancer needs a few probes to notice.
      await holdBeforeDrain(drainDelayMs, logger)
      await drainServer(server, graceMs)
      if (admin !== null) await drainServer(admin, 100)
      await origin.close()
      await cache.store.close()
    }
  }
}
