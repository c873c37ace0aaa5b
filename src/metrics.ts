/** Every metric corral exports, in one place (Prometheus text on the admin listener's /metrics). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

export type XCache = 'HIT' | 'MISS' | 'STALE' | 'PASS' | 'SHED' | 'REVALIDATED'

export class Metrics {
  readonly registry = new Registry()
  readonly requests: Record<XCache | 'ERROR', Counter.Internal>
  readonly originRequests: Counter<'reason'>
  readonly originErrors: Counter<'code'>
  readonly coalescedWaiters: Counter
  readonly sheds: Counter<'reason' | 'route'>
  readonly memcachedErrors: Counter<'server' | 'op'>
  readonly memcachedSkips: Counter<'reason'>
  readonly leases: Counter<'result'>
  readonly configReloads: Counter<'result'>
  readonly requestDuration: Record<XCache | 'ERROR', Histogram.Internal<'cache'>>
  readonly originDuration: Histogram
  readonly originInFlight: Gauge

  constructor () {
    const registers = [this.registry]
    const requests = new Counter({ name: 'corral_requests_total', help: 'Client requests by X-Cache outcome', labelNames: ['cache'], registers })
    // Children bound once: the hot path increments without hashing labels.
    this.requests = {
      HIT: requests.labels('HIT'),
      MISS: requests.labels('MISS'),
      STALE: requests.labels('STALE'),
      PASS: requests.labels('PASS'),
      SHED: requests.labels('SHED'),
      REVALIDATED: requests.labels('REVALIDATED'),
      ERROR: requests.labels('ERROR')
    }
    this.originRequests = new Counter({ name: 'corral_origin_requests_total', help: 'Requests sent to the origin, by why', labelNames: ['reason'], registers })
    this.originErrors = new Counter({ name: 'corral_origin_errors_total', help: 'Origin failures by error code', labelNames: ['code'], registers })
    this.coalescedWaiters = new Counter({ name: 'corral_coalesced_waiters_total', help: 'Requests that waited for another request\'s origin fetch instead of making their own', registers })
    this.sheds = new Counter({ name: 'corral_sheds_total', help: 'Requests shed, by reason and route', labelNames: ['reason', 'route'], registers })
    this.memcachedErrors = new Counter({ name: 'corral_memcached_errors_total', help: 'memcached operations that failed or timed out', labelNames: ['server', 'op'], registers })
    this.memcachedSkips = new Counter({ name: 'corral_memcached_skips_total', help: 'memcached operations skipped (node down, entry too large)', labelNames: ['reason'], registers })
    this.leases = new Counter({ name: 'corral_leases_total', help: 'Fleet lease attempts by result', labelNames: ['result'], registers })
    this.configReloads = new Counter({ name: 'corral_config_reloads_total', help: 'Config file reloads by result', labelNames: ['result'], registers })
    const requestDuration = new Histogram({
      name: 'corral_request_duration_seconds',
      help: 'Time from request to response end',
      labelNames: ['cache'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    })
    this.requestDuration = {
      HIT: requestDuration.labels('HIT'),
      MISS: requestDuration.labels('MISS'),
      STALE: requestDuration.labels('STALE'),
      PASS: requestDuration.labels('PASS'),
      SHED: requestDuration.labels('SHED'),
      REVALIDATED: requestDuration.labels('REVALIDATED'),
      ERROR: requestDuration.labels('ERROR')
    }
    this.originDuration = new Histogram({
      name: 'corral_origin_duration_seconds',
      help: 'Time to the origin\'s response headers',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    })
    this.originInFlight = new Gauge({ name: 'corral_origin_in_flight', help: 'Origin requests under way', registers })
  }
}
