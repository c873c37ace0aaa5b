import { Gauge, type Registry } from 'prom-client'
import type { Config } from '../config/types.js'
import { fleetVersion } from '../config/fleet-version.js'

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
