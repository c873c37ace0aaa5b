/**
 * cluster: `workers: "auto" | N > 1`. The primary forks one worker per core (they share the listening port through
 * node:cluster), replaces a worker that dies, and runs the admin listener for the whole group: /metrics aggregated
 * over the workers, /purge broadcast to every worker, /health and /flags for the group. Workers share the cache and
 * the leases through memcached.  [I/O]
 */
import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import { randomUUID } from 'node:crypto'
import { AggregatorRegistry, type Registry } from 'prom-client'
import type { Server } from 'node:http'
import { assertAdminTokenForBoundHost, type LoadedConfig } from '../config/load.js'
import type { Config } from '../config/types.js'
import type { Logger } from '../core/log.js'
import { isoRejected, makeAdminServer, type FlagsReport } from '../admin.js'
import { drainServer, listenOn } from '../receive.js'
import { logRejectedEdit, watchConfig } from '../config/watch.js'
import { flagsRecord, resolveFlags } from '../config/flags.js'
import { ConfigError } from '../core/errors.js'
import { workerExecArgv } from './runtime.js'
import type { PurgeOrder, PurgeReport } from '../purge/order.js'
import { answerPurge } from '../purge/admin-route.js'

export function resolveWorkers (workers: Config['workers']): number {
  return workers === 'auto' ? availableParallelism() : workers
}

/** A worker asks its primary for the config to start from (it does not read the file: it may be a rejected edit). */
interface ConfigRequest { readonly type: 'corral:config?' }
interface ConfigReply { readonly type: 'corral:config', readonly start: WireConfig, readonly current: WireConfig }
/** A LoadedConfig over IPC (JSON): the shed pages as base64. */
interface WireConfig { readonly config: Config, readonly version: string, readonly shedPages: Array<[number, string]> }

function toWire (loaded: LoadedConfig): WireConfig {
  return { config: loaded.config, version: loaded.version, shedPages: [...loaded.shedPages].map(([i, page]) => [i, page.toString('base64')]) }
}

function fromWire (wire: WireConfig): LoadedConfig {
  return { config: wire.config, version: wire.version, shedPages: new Map(wire.shedPages.map(([i, page]) => [i, Buffer.from(page, 'base64')])) }
}

/** `publish`: this worker also writes the records to memcached (one per group does; all apply them at once). */
interface PurgeRequest { readonly type: 'corral:purge', readonly id: string, readonly order: PurgeOrder, readonly publish: boolean }
interface PurgeReply { readonly type: 'corral:purged', readonly id: string, readonly report?: PurgeReport, readonly error?: string, readonly refused?: boolean }

/** A worker that dies this soon after starting is crash-looping: replacements back off. */
const CRASH_LOOP_MS = 2000
const MAX_RESPAWN_DELAY_MS = 10_000

/** Runs in the primary until SIGTERM/SIGINT; resolves with the exit code. */
export async function runPrimary (configPath: string, initial: LoadedConfig, workers: number, logger: Logger): Promise<number> {
  let loaded = initial
  let loadedAt = Date.now()
  let draining = false
  let respawnDelayMs = 100
  const startedAt = new Map<number, number>()

  // Workers serve: they run without V8's memory reducer whatever the primary was started with (runtime.ts).
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv) })
  const fork = (): void => {
    const worker = cluster.fork()
    startedAt.set(worker.id, Date.now())
  }
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker.id) ?? 0)
    startedAt.delete(worker.id)
    if (draining) return
    logger.error({ worker: worker.id, workerPid: worker.process.pid, code, signal }, 'worker died; starting a replacement')
    respawnDelayMs = lived < CRASH_LOOP_MS ? Math.min(respawnDelayMs * 2, MAX_RESPAWN_DELAY_MS) : 100
    setTimeout(() => { if (!draining) fork() }, respawnDelayMs).unref()
  })
  // Every worker, a replacement too, starts from the last good config, never from the file: a rejected edit on disk
  // would make each replacement exit at once, forever. `start` is the config the group started with (listeners,
  // origin URL: restart-only keys); the worker applies `current` over it, as a worker alive since then would have.
  cluster.on('message', (worker, message: ConfigRequest) => {
    if (message?.type !== 'corral:config?') return
    worker.send({ type: 'corral:config', start: toWire(initial), current: toWire(loaded) } satisfies ConfigReply)
  })
  for (let i = 0; i < workers; i++) fork()

  const watcher = watchConfig(configPath, {
    initial,
    onApply: (next) => {
      // Throwing rejects the edit: the admin listener below stays bound to initial's admin.host until a restart.
      assertAdminTokenForBoundHost(initial.config.admin.host, next.config)
      loaded = next
      loadedAt = Date.now()
      logger.info({ version: next.version }, 'config applied')
    },
    onReject: (err) => {
      logRejectedEdit(logger, err, configPath)
    }
  })
  const aggregator = new AggregatorRegistry()
  const admin: Server = makeAdminServer({
    metricsText: async () => await aggregator.clusterMetrics(),
    logger,
    token: () => loaded.config.admin.token,
    isDraining: () => draining,
    flags: (): FlagsReport => {
      return {
        version: loaded.version,
        loadedAt: new Date(loadedAt).toISOString(),
        file: configPath,
        rejected: isoRejected(watcher.status().rejected),
        flags: flagsRecord(resolveFlags(loaded.config)),
        routes: loaded.config.routes.map((r) => ({ match: r.match, priority: r.priority, flag: r.flag ?? null })),
        origin: { inFlight: -1, queued: -1, limit: loaded.config.origin.maxInFlight === 0 ? null : loaded.config.origin.maxInFlight },
        memcached: loaded.config.cache.memcached.enabled && loaded.config.cache.memcached.servers.length > 0 ? loaded.config.cache.memcached.servers : 'off'
      }
    },
    purge: async (params) => await answerPurge(params, broadcastPurge)
  })
  await listenOn(admin, initial.config.admin.host, initial.config.admin.port)
  logger.info({ workers, adminPort: initial.config.admin.port }, 'cluster primary started')

  return await new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      if (draining) return
      draining = true
      logger.info({ signal }, 'draining workers')
      watcher.close()
      const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined)
      let left = alive.length
      const done = (): void => {
        drainServer(admin, 100).finally(() => resolve(0)).catch(() => {})
      }
      if (left === 0) return done()
      for (const worker of alive) {
        worker.once('exit', () => { if (--left === 0) done() })
        worker.process.kill('SIGTERM')
      }
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
    process.on('SIGHUP', () => {
      watcher.reload()
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP')
    })
  })
}

/**
 * Every worker applies the purge to its own memory at once (with the embedded cache this is the only way it reaches
 * them); the first also publishes it to memcached for the fleet (the others would only write the same records again).
 * Resolves with the workers' reports summed.
 */
async function broadcastPurge (order: PurgeOrder): Promise<PurgeReport> {
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected())
  const id = randomUUID()
  const replies = await Promise.all(workers.map(async (worker, i) => await new Promise<PurgeReply>((resolve) => {
    const onMessage = (message: PurgeReply): void => {
      if (message?.type !== 'corral:purged' || message.id !== id) return
      worker.off('message', onMessage)
      clearTimeout(timer)
      resolve(message)
    }
    const timer = setTimeout(() => {
      worker.off('message', onMessage)
      resolve({ type: 'corral:purged', id, error: 'worker did not answer' })
    }, 5000)
    worker.on('message', onMessage)
    worker.send({ type: 'corral:purge', id, order, publish: i === 0 } satisfies PurgeRequest)
  })))
  const refused = replies.find((r) => r.refused === true)
  if (refused?.error !== undefined) throw new ConfigError('', refused.error)
  const reports = replies.flatMap((r) => r.report === undefined ? [] : [r.report])
  const first = reports[0]
  if (first === undefined) throw new Error(replies.find((r) => r.error !== undefined)?.error ?? 'no worker to purge')
  return { ...first, touched: reports.reduce((sum, r) => sum + r.touched, 0), fleet: reports.some((r) => r.fleet) }
}

/**
 * Worker side, before serving: the config to start from and the one in force now, from the primary (see runPrimary).
 * Rejects when the primary does not answer within `timeoutMs`.
 */
export async function configFromPrimary (timeoutMs = 10_000): Promise<{ start: LoadedConfig, current: LoadedConfig }> {
  return await new Promise((resolve, reject) => {
    const onMessage = (message: ConfigReply): void => {
      if (message?.type !== 'corral:config') return
      done()
      resolve({ start: fromWire(message.start), current: fromWire(message.current) })
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`the cluster primary did not send the config within ${timeoutMs} ms`))
    }, timeoutMs)
    const done = (): void => {
      clearTimeout(timer)
      process.off('message', onMessage)
    }
    process.on('message', onMessage)
    if (process.send === undefined) {
      done()
      reject(new Error('not a cluster worker: no IPC channel to the primary'))
      return
    }
    process.send({ type: 'corral:config?' } satisfies ConfigRequest)
  })
}

/** What a worker's side needs of its proxy (proxy.ts's Proxy is one): its metrics, and purges. */
export interface WorkerProxy {
  readonly metrics: { readonly registry: Registry }
  purge (order: PurgeOrder, publish?: boolean): Promise<PurgeReport>
}

/** Worker side: answer the primary's purge broadcasts and metric scrapes. */
export function serveWorker (proxy: WorkerProxy): void {
  AggregatorRegistry.setRegistries([proxy.metrics.registry])
  // prom-client installs the worker's answer to the primary's scrape in AggregatorRegistry's constructor.
  // eslint-disable-next-line no-new
  new AggregatorRegistry()
  process.on('message', (message: PurgeRequest) => {
    if (message?.type !== 'corral:purge') return
    const reply = (r: Omit<PurgeReply, 'type' | 'id'>): void => { process.send?.({ type: 'corral:purged', id: message.id, ...r }) }
    proxy.purge(message.order, message.publish).then((report) => reply({ report }),
      (err: unknown) => reply(err instanceof ConfigError ? { error: err.message, refused: true } : { error: String(err) }))
  })
}
