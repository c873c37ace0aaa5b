import { Gauge, type Registry } from 'prom-client'
import type { ShedShare } from '../shed-share.js'

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
