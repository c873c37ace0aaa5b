/**
 * proxy: wiring only. Builds the store, the origin pool, the pipeline and the two listeners from a config, and swaps
 * settings in on reload. No request logic lives here.
 */
import type { Server } from 'node:http'
import type { Config } from './config/types.js'
import type { LoadedConfig } from './config/load.js'
import type { CacheStore } from './store/types.js'
import { MemoryStore } from './store/memory.js'
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

export function makeStore (config: Config): CacheStore {
  return new MemoryStore({ maxBytes: config.cache.memory.maxBytes })
}

export function createProxy (initial: LoadedConfig, options: ProxyOptions = {}): Proxy {
  let loaded = initial
  const config = initial.config
  const logger = options.logger ?? makeLogger(config.log.level)
  const clock = options.clock ?? systemClock
  const metrics = new Metrics()
  const store = options.store ?? makeStore(config)
  const origin = new Origin(config.origin)
  const pipeline = new Pipeline({ store, origin, clock, logger, metrics }, makeSettings(config), config.origin.timeoutMs)
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
      pipeline.apply(makeSettings(next.config), next.config.origin.timeoutMs)
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
