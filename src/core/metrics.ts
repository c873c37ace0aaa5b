/** Every metric corral exports, in one place (Prometheus text on the admin listener's /metrics). */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { VERSION } from './build-info.js'
import { makeCompressMeter, type CompressMeter } from './compress-meter.js'

import type { XCache } from './trace.js'

export type { XCache }
export type RequestOutcome = XCache | 'ERROR'

const OUTCOMES: readonly RequestOutcome[] = ['HIT', 'MISS', 'STALE', 'PASS', 'SHED', 'REVALIDATED', 'ERROR']
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Live values the scrape-time gauges read. */
export interface MetricSources {
  originInFlight: () => number
  memoryCacheBytes: () => number
  memoryCacheEntries: () => number
  /** Each flag's name and value in force. */
  flags: () => Iterable<readonly [string, boolean | number]>
  /** The config in force: version, load time (epoch ms), and whether the file's latest edit was refused. */
  config: () => { version: string, loadedAt: number, rejected: boolean }
  /** Each memcached node as this process sees it. */
  memcachedNodes: () => ReadonlyArray<{ readonly server: string, readonly up: boolean }>
  /** Every origin server as [group, server URL, usable]. */
  originServers: () => ReadonlyArray<readonly [string, string, boolean]>
}

interface MetricValue { value: number, labels: Record<string, string | number>, metricName?: string }

/** Status codes a response can carry (node:http refuses others): one counter slot each, per outcome. */
const MIN_STATUS = 100
const STATUS_SLOTS = 500

/**
 * Requests by outcome and client status code, and their latency histogram by outcome, kept as plain numbers and
 * turned into Prometheus values only when scraped. prom-client's labelled Counter.inc + Histogram.observe cost about
 * 2.5 µs per request (measured with --cpu-prof on the L1 hit path), over a tenth of a whole hit; these cost a few
 * array writes (the status code is an index, not a label lookup).
 */
export class RequestStats {
  readonly #counts = new Float64Array(OUTCOMES.length)
  /** Per outcome, a slot per status code 100-599. */
  readonly #byStatus = new Float64Array(OUTCOMES.length * STATUS_SLOTS)
  /** Per outcome: one cumulative-free count per bucket plus +Inf, then sum. */
  readonly #buckets = OUTCOMES.map(() => new Float64Array(DURATION_BUCKETS.length + 1))
  readonly #sums = new Float64Array(OUTCOMES.length)
  readonly #index = Object.fromEntries(OUTCOMES.map((outcome, i) => [outcome, i])) as Record<RequestOutcome, number>

  record (outcome: RequestOutcome, seconds: number, status: number): void {
    const i = this.#index[outcome]
    const counts = this.#counts
    counts[i] = (counts[i] as number) + 1
    const slot = status - MIN_STATUS
    if (slot >= 0 && slot < STATUS_SLOTS) {
      const byStatus = this.#byStatus
      const at = i * STATUS_SLOTS + slot
      byStatus[at] = (byStatus[at] as number) + 1
    }
    this.#sums[i] = (this.#sums[i] as number) + seconds
    const buckets = this.#buckets[i] as Float64Array
    let b = 0
    while (b < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[b] as number)) b++
    buckets[b] = (buckets[b] as number) + 1
  }

  count (outcome: RequestOutcome): number {
    return this.#counts[this.#index[outcome]] as number
  }

  /** Requests of one outcome answered with `status`. */
  countStatus (outcome: RequestOutcome, status: number): number {
    return this.#byStatus[this.#index[outcome] * STATUS_SLOTS + status - MIN_STATUS] ?? 0
  }

  #requestValues (): MetricValue[] {
    const values: MetricValue[] = []
    const byStatus = this.#byStatus
    OUTCOMES.forEach((cache, i) => {
      if (this.#counts[i] === 0) return
      for (let slot = 0; slot < STATUS_SLOTS; slot++) {
        const value = byStatus[i * STATUS_SLOTS + slot] as number
        if (value !== 0) values.push({ value, labels: { cache, code: slot + MIN_STATUS } })
      }
    })
    return values
  }

  /** prom-client's metric interface (what Registry.registerMetric and the cluster aggregator read). */
  requestsMetric (): unknown {
    const name = 'corral_requests_total'
    const help = 'Client requests by X-Cache outcome (ERROR: corral failed before choosing one) and the status code the client got'
    return {
      name,
      help,
      type: 'counter',
      aggregator: 'sum',
      get: async () => ({ name, help, type: 'counter', aggregator: 'sum', values: this.#requestValues() })
    }
  }

  durationMetric (): unknown {
    const name = 'corral_request_duration_seconds'
    const help = 'Time from request to response end, by X-Cache outcome'
    return {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: async () => {
        const values: MetricValue[] = []
        OUTCOMES.forEach((cache, i) => {
          if (this.#counts[i] === 0) return
          const buckets = this.#buckets[i] as Float64Array
          let cumulative = 0
          DURATION_BUCKETS.forEach((le, b) => {
            cumulative += buckets[b] as number
            values.push({ metricName: `${name}_bucket`, value: cumulative, labels: { le, cache } })
          })
          values.push({ metricName: `${name}_bucket`, value: this.#counts[i] as number, labels: { le: '+Inf', cache } })
          values.push({ metricName: `${name}_sum`, value: this.#sums[i] as number, labels: { cache } })
          values.push({ metricName: `${name}_count`, value: this.#counts[i] as number, labels: { cache } })
        })
        return { name, help, type: 'histogram', aggregator: 'sum', values }
      }
    }
  }
}

export class Metrics {
  readonly registry = new Registry()
  readonly requests = new RequestStats()
  readonly originRequests: Counter<'reason'>
  readonly originErrors: Counter<'code'>
  readonly coalescedWaiters: Counter
  readonly sheds: Counter<'reason' | 'route'>
  readonly memcachedErrors: Counter<'server' | 'op'>
  readonly memcachedSkips: Counter<'reason'>
  readonly chunkedEntries: Counter<'op'>
  readonly chunkMisses: Counter
  readonly chunkBytes: Counter<'op'>
  readonly fleetStreams: Counter<'op'>
  readonly fleetStreamBytes: Counter<'op'>
  readonly leases: Counter<'result'>
  readonly configReloads: Counter<'result'>
  readonly purges: Counter<'kind' | 'mode'>
  /** Compression at fill time (compress-meter.ts). */
  readonly compress: CompressMeter
  readonly originDuration: Histogram
  readonly originInFlight: Gauge
  readonly originUp: Gauge<'origin' | 'server'>
  readonly originServerRequests: Counter<'origin' | 'server'>
  readonly originServerErrors: Counter<'origin' | 'server' | 'code'>
  readonly memoryCacheBytes: Gauge
  readonly memoryCacheEntries: Gauge
  readonly memcachedUp: Gauge<'server'>
  readonly buildInfo: Gauge<'version' | 'node'>
  readonly flag: Gauge<'name'>
  readonly configInfo: Gauge<'version'>
  readonly configLoaded: Gauge
  readonly configLastReloadSuccessful: Gauge
  /** What the gauges report; the proxy points these at its live cache, limiter, flags, config and servers. */
  readonly sources: MetricSources = {
    originInFlight: () => 0,
    memoryCacheBytes: () => 0,
    memoryCacheEntries: () => 0,
    flags: () => [],
    config: () => ({ version: '', loadedAt: 0, rejected: false }),
    memcachedNodes: () => [],
    originServers: () => []
  }

  constructor () {
    const registers = [this.registry]
    this.registry.registerMetric(this.requests.requestsMetric() as Parameters<Registry['registerMetric']>[0])
    this.registry.registerMetric(this.requests.durationMetric() as Parameters<Registry['registerMetric']>[0])
    this.originRequests = new Counter({ name: 'corral_origin_requests_total', help: 'Requests sent to the origin, by why', labelNames: ['reason'], registers })
    this.originErrors = new Counter({ name: 'corral_origin_errors_total', help: 'Origin failures by error code', labelNames: ['code'], registers })
    this.coalescedWaiters = new Counter({ name: 'corral_coalesced_waiters_total', help: 'Requests that waited for another request\'s origin fetch instead of making their own', registers })
    this.sheds = new Counter({ name: 'corral_sheds_total', help: 'Requests shed, by reason and route', labelNames: ['reason', 'route'], registers })
    this.memcachedErrors = new Counter({ name: 'corral_memcached_errors_total', help: 'memcached operations that failed or timed out', labelNames: ['server', 'op'], registers })
    this.memcachedSkips = new Counter({ name: 'corral_memcached_skips_total', help: 'memcached operations skipped (node down, entry too large)', labelNames: ['reason'], registers })
    // Entries over one memcached item, kept as a head plus chunks (store/chunks.ts).
    this.chunkedEntries = new Counter({ name: 'corral_chunked_entries_total', help: 'Entries over one memcached item stored or read whole as chunks, read in part for a Range (op="range"), or not stored because a chunk write failed (op="write-failed")', labelNames: ['op'], registers })
    this.chunkMisses = new Counter({ name: 'corral_chunk_misses_total', help: 'Chunked entries read torn (a chunk evicted, short or from another write): a miss of the whole entry', registers })
    this.chunkBytes = new Counter({ name: 'corral_chunk_bytes_total', help: 'Bytes of chunked entries written to or read from memcached', labelNames: ['op'], registers })
    // Large fills streamed to other proxies through memcached while they arrive (coalesce/fleet-publish.ts, fleet-follow.ts).
    this.fleetStreams = new Counter({ name: 'corral_fleet_streams_total', help: 'Large fills published in memcached while they arrived (op="published" or "publish-failed") and fills of another proxy followed from there to the end or cut off (op="followed" or "follow-failed")', labelNames: ['op'], registers })
    this.fleetStreamBytes = new Counter({ name: 'corral_fleet_stream_bytes_total', help: 'Bytes of fills published in memcached while they arrived (op="published") or read from there by a follower (op="followed")', labelNames: ['op'], registers })
    this.leases = new Counter({ name: 'corral_leases_total', help: 'Fleet lease attempts by result', labelNames: ['result'], registers })
    this.configReloads = new Counter({ name: 'corral_config_reloads_total', help: 'Config file reloads by result', labelNames: ['result'], registers })
    this.compress = makeCompressMeter(this.registry)
    this.purges = new Counter({ name: 'corral_purges_total', help: 'Purge records issued here (admin /purge), by kind (url, tag, prefix) and mode (hard, soft)', labelNames: ['kind', 'mode'], registers })
    this.originDuration = new Histogram({
      name: 'corral_origin_duration_seconds',
      help: 'Time to the origin\'s response headers',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    })
    // Gauges read their source when scraped, never on the request path.
    const sources = this.sources
    this.originInFlight = new Gauge({ name: 'corral_origin_in_flight', help: 'Origin requests under way', registers, collect () { this.set(sources.originInFlight()) } })
    this.originUp = new Gauge({
      name: 'corral_origin_up',
      help: 'Whether an origin server takes requests (1) or is ejected or down (0), by group and server',
      labelNames: ['origin', 'server'],
      // Across cluster workers: up only where every worker finds it up.
      aggregator: 'min',
      registers,
      collect () {
        // Reset first: a server a reload removed must vanish, not stay at its last value.
        this.reset()
        for (const [origin, server, up] of sources.originServers()) this.labels(origin, server).set(up ? 1 : 0)
      }
    })
    this.originServerRequests = new Counter({ name: 'corral_origin_server_requests_total', help: 'Requests sent to each origin server (retries and failovers included)', labelNames: ['origin', 'server'], registers })
    this.originServerErrors = new Counter({ name: 'corral_origin_server_errors_total', help: 'Failures per origin server by code (status-5xx: it answered with a 5xx)', labelNames: ['origin', 'server', 'code'], registers })
    this.memoryCacheBytes = new Gauge({ name: 'corral_memory_cache_bytes', help: 'Bytes held by the in-process cache (bounded by cache.memory.maxBytes)', registers, collect () { this.set(sources.memoryCacheBytes()) } })
    this.memoryCacheEntries = new Gauge({ name: 'corral_memory_cache_entries', help: 'Records held by the in-process cache', registers, collect () { this.set(sources.memoryCacheEntries()) } })
    // Reset first: a reload may have dropped a server. Across cluster workers the lowest wins: down if any sees it down.
    this.memcachedUp = new Gauge({
      name: 'corral_memcached_up',
      help: 'memcached node state as this process sees it: 1 up, 0 marked down (skipped until a probe answers)',
      labelNames: ['server'],
      aggregator: 'min',
      registers,
      collect () {
        this.reset()
        for (const node of sources.memcachedNodes()) this.labels(node.server).set(node.up ? 1 : 0)
      }
    })
    // A cluster's workers report the same build, flags and config: the aggregate is one worker's, not their sum.
    this.buildInfo = new Gauge({ name: 'corral_build_info', help: 'Always 1; the labels say which corral and which node run', labelNames: ['version', 'node'], aggregator: 'first', registers })
    this.buildInfo.labels(VERSION, process.versions.node).set(1)
    this.flag = new Gauge({
      name: 'corral_flag',
      help: 'Each flag\'s value in force (true 1, false 0, numbers as they are)',
      labelNames: ['name'],
      aggregator: 'first',
      registers,
      collect () {
        this.reset()
        for (const [name, value] of sources.flags()) this.labels(name).set(typeof value === 'boolean' ? Number(value) : value)
      }
    })
    this.configInfo = new Gauge({
      name: 'corral_config_info',
      help: 'Always 1; the label is the version (hash of the effective config) in force, as /flags shows it',
      labelNames: ['version'],
      aggregator: 'first',
      registers,
      collect () {
        this.reset()
        this.labels(sources.config().version).set(1)
      }
    })
    this.configLoaded = new Gauge({
      name: 'corral_config_last_reload_timestamp_seconds',
      help: 'When the config in force was loaded (start or the last applied edit), Unix seconds',
      aggregator: 'max',
      registers,
      collect () { this.set(sources.config().loadedAt / 1000) }
    })
    this.configLastReloadSuccessful = new Gauge({
      name: 'corral_config_last_reload_successful',
      help: '1 when the file on disk is the config in force, 0 while its latest edit is refused (the last good config serves)',
      aggregator: 'min',
      registers,
      collect () { this.set(sources.config().rejected ? 0 : 1) }
    })
    // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_*, nodejs_gc_duration_seconds, …:
    // sampled by timers and a GC observer, read on scrape; nothing runs per request.
    collectDefaultMetrics({ register: this.registry })
  }
}
