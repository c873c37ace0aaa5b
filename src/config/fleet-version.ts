/**
 * The config's fleet version: a hash of what should match on every proxy of a fleet, so a drift alert compares that
 * and not the whole file. The whole-config version (`corral_config_info`) counts ports too: two proxies that differed
 * only in their ports kept CorralConfigDrift firing (issue 26, friction 5). Pure.
 *
 * Left out, as per-host by nature: where this process listens (listen.host, listen.port), its admin listener and
 * token (admin.*), its worker count (sized to the host's cores), its in-process cache size (sized to the host's
 * memory) and its logging (an operator may raise one host's level to look at it).
 */
import { createHash } from 'node:crypto'
import { canonicalJson } from './load.js'
import type { Config } from './types.js'

export function fleetVersion (config: Config): string {
  const { listen, admin: _admin, workers: _workers, log: _log, cache, ...shared } = config
  const { host: _host, port: _port, ...listenShared } = listen
  const { memory, ...cacheShared } = cache
  const { maxBytes: _maxBytes, ...memoryShared } = memory
  const fleet = { ...shared, listen: listenShared, cache: { ...cacheShared, memory: memoryShared } }
  return createHash('sha1').update(canonicalJson(fleet)).digest('hex').slice(0, 12)
}
