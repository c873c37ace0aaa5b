/** Gauges the wiring registers beside core/metrics.ts's: read on scrape, never on the request path. */
import { Gauge, type Registry } from 'prom-client'
import type { Config } from './config/types.js'
import { fleetVersion } from './config/fleet-version.js'
import type { ShedShare } from './shed-share.js'

/**
 * corral_shed_share_percent: the share of recent requests shedPercent actually shed, read on scrape, to set against
 * corral_flag{name="shedPercent"}. Below the flag when critical traffic is more than 100 - shedPercent of the mix.
 */
export function registerShedShareGauge (registry: Registry, share: ShedShare): Gauge {
  return new Gauge({
    name: 'corral_shed_share_percent',
    help: 'Share of recent requests (about the last 1000-2000) shed by shedPercent (served from cache only, else the whenShed answer), in per cent; compare with corral_flag{name="shedPercent"}',
    // Across cluster workers: each sees its own share of the same traffic.
    aggregator: 'average',
    registers: [registry],
    collect () { this.set(share.shedPercent()) }
  })
}

/**
 * corral_config_fleet_info{version}: the hash of the config's fleet-wide part (config/fleet-version.ts), for the
 * drift alert. Computed once per config (a WeakMap on the config object), read on scrape.
 */
export function registerFleetConfigGauge (registry: Registry, current: () => Config): Gauge<'version'> {
  const versions = new WeakMap<Config, string>()
  return new Gauge({
    name: 'corral_config_fleet_info',
    help: 'Always 1; the label hashes the part of the config every proxy of a fleet should share (not listen.host/port, admin, workers, cache.memory.maxBytes, log)',
    labelNames: ['version'],
    aggregator: 'first',
    registers: [registry],
    collect () {
      const config = current()
      let version = versions.get(config)
      if (version === undefined) {
        version = fleetVersion(config)
        versions.set(config, version)
      }
      this.reset()
      this.labels(version).set(1)
    }
  })
}
