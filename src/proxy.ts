/**
 * proxy: wiring only. Builds the cache, the origin pool, the pipeline and the two listeners from a config (the parts
 * come from proxy-build.ts), and swaps settings in on reload (what to replace is proxy-reload.ts's decision). No
 * request logic lives here.
 */
import type { Server } from 'node:http'
import type { LogFormat } from './config/types.js'
import { assertAdminTokenForBoundHost, type LoadedConfig } from './config/load.js'
import type { CacheStore } from './store/types.js'
import type { MemcachedStore } from './store/memcached.js'
import { Origin } from './origin/fetch.js'
import { OriginLimiter } from './origin/limit.js'
import { Metrics } from './core/metrics.js'
import { makeLogger, type Logger } from './core/log.js'
import { systemClock, type Clock } from './core/clock.js'
import { Pipeline } from './pipeline.js'
import { ShedShare } from './shed-share.js'
import { LimiterLoad } from './shed-load.js'
import { registerFleetConfigGauge, registerShedShareGauge } from './proxy-gauges.js'
import { diffConfig, diffFlags, flagsRecord } from './config/flags.js'
import { logRejectedEdit, watchConfig, type ConfigWatcher } from './config/watch.js'
import { drainServer, holdBeforeDrain, listenOn, makeServer } from './receive.js'
import { ConnectionDrain, drainIdleMs } from './receive-drain.js'
import { isoRejected, makeAdminServer, type FlagsReport } from './admin.js'
import { countUp } from './origin/up-count.js'
import { listRecords, type ListedRecord } from './purge/list.js'
import { BanList } from './purge/bans.js'
import { Purger } from './purge/purger.js'
import { answerPurge } from './purge/admin-route.js'
import type { PurgeOrder, PurgeReport } from './purge/order.js'
import { HitForPass } from './coalesce/hit-for-pass.js'
import { deleteUrl } from './purge/invalidate.js'
import {
  limiterOptions, makeCache, makeFleet, makePurgeChannel, makeSettings, memoryTier, retiredCacheCloseDelayMs,
  type BuiltCache
} from './proxy-build.js'
import { keysNeedingRestart, planReload } from './proxy-reload.js'

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
  /** The purge records in force (GET /purges; a cluster primary asks a worker). */
  purgeRecords (): { count: number, records: ListedRecord[] }
  /**
   * SIGTERM: health turns 503 (for `drainDelayMs` while still serving), stop accepting, finish in-flight requests
   * (bounded by `graceMs`), close.
   */
  close (graceMs?: number, drainDelayMs?: number): Promise<void>
}

function noop (): void {}

function memcachedNodesReport (l2: MemcachedStore): NonNullable<FlagsReport['memcachedNodes']> {
  return l2.nodeStates().map(({ server, up, downSince, errors }) => ({
    server,
    state: up ? 'up' : 'down',
    downSince: downSince === null ? null : new Date(downSince).toISOString(),
    errors
  }))
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
  const load = new LimiterLoad(limiter, new ShedShare())
  registerShedShareGauge(metrics.registry, load.share)
  registerFleetConfigGauge(metrics.registry, () => loaded.config)
  const hitForPass = new HitForPass(settings.hitForPassMs)
  const pipeline = new Pipeline({ origin, clock, logger, metrics, load, hitForPass }, cache, settings)
  const server: Server = makeServer(config.listen, (req, res) => pipeline.handle(req, res), logger)
  const connections = new ConnectionDrain(server)
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
    deleteKey: async (key) => { await deleteUrl({ store: cache.store, hitForPass, logger }, key) },
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
    const plan = planReload(prev.config, next.config, options.store !== undefined, cache.l2 !== null)
    if (plan.store) {
      const old = cache
      cache = makeCache(next.config, metrics, logger, clock, bans)
      pipeline.useCache(cache)
      // Requests already on the old cache finish there; then its connections close.
      setTimeout(() => { old.store.close().catch(() => {}) }, retiredCacheCloseDelayMs(old)).unref()
    } else if (plan.fleet && cache.l2 !== null) {
      // Same store, same L1: only the lease's timings change. Requests already waiting finish on the old lease.
      cache = { ...cache, fleet: makeFleet(next.config, cache.l2, metrics, logger, cache.shared) }
      pipeline.useCache(cache)
    }
    if (plan.channel) {
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
    for (const w of next.warnings ?? []) logger.warn({ key: w.keyPath, reason: w.reason }, 'config warning')
    if (logger.isLevelEnabled('debug')) logger.debug({ version: next.version, store: cache.store === before.store ? 'kept' : 'replaced', fleet: cache.fleet === before.fleet ? 'kept' : 'replaced' }, 'reload decisions')
    const needRestart = keysNeedingRestart(changes)
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

  const purgeRecords = (): { count: number, records: ListedRecord[] } => {
    const records = listRecords(bans.list(), clock.now())
    return { count: records.length, records }
  }

  const admin: Server | null = options.admin === false
    ? null
    : makeAdminServer({
      metricsText: async () => await metrics.registry.metrics(),
      logger,
      token: () => loaded.config.admin.token,
      isDraining: () => pipeline.draining,
      flags: flagsReport,
      purge: async (params) => await answerPurge(params, async (order) => await purger.purge(order)),
      purges: async () => purgeRecords(),
      origins: () => countUp(origin.report())
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
      for (const w of loaded.warnings ?? []) logger.warn({ key: w.keyPath, reason: w.reason }, 'config warning')
      return { port, adminPort }
    },
    apply,
    reload () {
      watcher?.reload()
    },
    async purge (order, publish = true) {
      return await purger.purge(order, publish)
    },
    purgeRecords,
    async close (graceMs = 10_000, drainDelayMs = 0) {
      if (pipeline.draining) return
      pipeline.draining = true
      watcher?.close()
      channel?.close()
      // Health says 503 from here on, while requests are still served: a balancer needs a few probes to notice.
      // Every answer from here on says Connection: close, so clients move off this process as they are answered.
      connections.closeAfterEachResponse()
      await holdBeforeDrain(drainDelayMs, logger)
      await connections.drain(graceMs, drainIdleMs(loaded.config.listen.keepAliveTimeoutMs))
      if (admin !== null) await drainServer(admin, 100)
      await origin.close()
      await cache.store.close()
    }
  }
}
