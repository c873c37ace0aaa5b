/**
 * proxy: wiring only. Builds the store, the origin pool, the pipeline and the two listeners from a config, and swaps
 * settings in on reload. No request logic lives here.
 */
import type { Server } from 'node:http'
import type { Config } from './config/types.js'
import type { LoadedConfig } from './config/load.js'
import type { CacheStore } from './store/types.js'
import { MemoryStore } from './store/memory.js'
import { MemcachedStore } from './store/memcached.js'
import { TieredStore } from './store/tiered.js'
import { FleetLease } from './coalesce/lease.js'
import { Origin } from './fetch.js'
import { Metrics } from './metrics.js'
import { makeLogger, type Logger } from './log.js'
import { systemClock, type Clock } from './clock.js'
import { Pipeline, type PipelineSettings } from './pipeline.js'
import { makeKeyOptions } from './key.js'
import { drainServer, listenOn, makeServer } from './receive.js'
import { makeAdminServer } from './admin.js'

export interface ProxyOptions {
  readonly logger?: Logger
  readonly clock?: Clock
  /** Replace the cache store (tests); by default built from config.cache. */
  readonly store?: CacheStore
}

export interface Proxy {
  readonly pipeline: Pipeline
  readonly metrics: Metrics
  readonly logger: Logger
  readonly store: CacheStore
  listen (): Promise<{ port: number, adminPort: number }>
  /** Apply a new config (hot reload). Listener addresses and store topology need a restart. */
  apply (next: LoadedConfig): void
  readonly loaded: LoadedConfig
  /** SIGTERM: health turns 503, stop accepting, finish in-flight requests, close. */
  close (graceMs?: number): Promise<void>
}

export function makeSettings (config: Config): PipelineSettings {
  return {
    keyOptions: makeKeyOptions(config),
    storeOptions: {
      graceSeconds: config.cache.graceSeconds,
      staleIfErrorSeconds: config.cache.staleIfErrorSeconds,
      heuristicFraction: config.cache.heuristicFraction,
      storeSetCookie: config.cache.storeSetCookie
    },
    maxObjectBytes: config.cache.maxObjectBytes,
    hitForPassMs: config.cache.hitForPassSeconds * 1000,
    accessLog: config.log.access
  }
}

export interface Cache {
  readonly store: CacheStore
  readonly fleet: FleetLease | null
}

/**
 * The embedded cache alone, or L1 in front of memcached with fleet leases. memcached errors become metrics and a
 * log line (the store marks the node down, so one line per outage per node), never a client error.
 */
export function makeCache (config: Config, metrics: Metrics, logger: Logger, clock: Clock): Cache {
  const { memory, memcached } = config.cache
  if (!memcached.enabled || memcached.servers.length === 0) {
    return { store: new MemoryStore({ maxBytes: memory.maxBytes }), fleet: null }
  }
  const l2 = new MemcachedStore({
    servers: memcached.servers,
    timeoutMs: memcached.timeoutMs,
    retryDownMs: memcached.retryDownMs,
    prefix: memcached.prefix,
    maxItemBytes: memcached.maxItemBytes,
    onError: (server, op, err) => {
      metrics.memcachedErrors.labels(server, op).inc()
      logger.warn({ server, op, reason: (err as Error).message }, 'memcached error: node skipped until retry')
    },
    onSkip: (reason) => metrics.memcachedSkips.labels(reason).inc()
  })
  const store = new TieredStore({ l1: { maxBytes: memory.maxBytes, maxTtlMs: memory.maxTtlSeconds * 1000 }, l2, clock })
  const leaseTtlMs = memcached.leaseTtlMs ?? config.origin.timeoutMs
  const fleet = new FleetLease({
    leases: l2,
    shared: l2,
    leaseTtlMs,
    // A follower outwaits the lease (a dead leader's lease expires first), then a takeover's own fetch.
    waitMs: leaseTtlMs + config.origin.timeoutMs,
    now: systemClock.now,
    onLease: (result) => metrics.leases.labels(result).inc()
  })
  return { store, fleet }
}

/** In-process waiters wait as long as the fleet's follower does, so a fleet wait never strands them early. */
function waitTimeoutMs (config: Config, fleet: FleetLease | null): number {
  return fleet === null ? config.origin.timeoutMs : fleet.options.waitMs + 100
}

export function createProxy (initial: LoadedConfig, options: ProxyOptions = {}): Proxy {
  let loaded = initial
  const config = initial.config
  const logger = options.logger ?? makeLogger(config.log.level)
  const clock = options.clock ?? systemClock
  const metrics = new Metrics()
  const cache = options.store !== undefined ? { store: options.store, fleet: null } : makeCache(config, metrics, logger, clock)
  const { store, fleet } = cache
  const origin = new Origin(config.origin)
  const pipeline = new Pipeline({ store, fleet, origin, clock, logger, metrics }, makeSettings(config), waitTimeoutMs(config, fleet))
  const server: Server = makeServer(config.listen, (req, res) => pipeline.handle(req, res), logger)
  const admin: Server = makeAdminServer({
    metrics,
    logger,
    token: () => loaded.config.admin.token,
    isDraining: () => pipeline.draining,
    flags: () => ({ version: loaded.version, flags: loaded.config.flags }),
    purge: (url, host) => pipeline.invalidateUrl(host, url)
  })

  return {
    pipeline,
    metrics,
    logger,
    store,
    get loaded () { return loaded },
    async listen () {
      const port = await listenOn(server, config.listen.host, config.listen.port)
      const adminPort = await listenOn(admin, config.admin.host, config.admin.port)
      logger.info({ port, adminPort, origin: config.origin.url, version: loaded.version }, 'listening')
      return { port, adminPort }
    },
    apply (next) {
      loaded = next
      pipeline.apply(makeSettings(next.config), waitTimeoutMs(next.config, fleet))
      origin.update(next.config.origin)
    },
    async close (graceMs = 10_000) {
      pipeline.draining = true
      await drainServer(server, graceMs)
      await drainServer(admin, 100)
      await origin.close()
      await store.close()
    }
  }
}
