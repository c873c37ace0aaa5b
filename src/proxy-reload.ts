/**
 * proxy-reload: what a reload replaces, decided from the old and the new config alone: the store (and L1 with it),
 * the fleet lease only, the purge channel, and which changed keys wait for a restart.  [pure]
 */
import { isDeepStrictEqual } from 'node:util'
import type { Config } from './config/types.js'

/** Keys whose new value is only read at start. */
const RESTART_KEYS = /^(listen\.|admin\.(host|port)$|origin\.connections$|workers$)/

export function usesMemcached (config: Config): boolean {
  return config.cache.memcached.enabled && config.cache.memcached.servers.length > 0
}

/**
 * What the store is built from: a change here replaces it (and empties L1). The embedded store reads only
 * memory.maxBytes; memcached's settings count only while memcached is in use.
 */
function storeShape (config: Config): unknown {
  const { memory, memcached } = config.cache
  if (!usesMemcached(config)) return { memcached: false, maxBytes: memory.maxBytes }
  const { servers, timeoutMs, retryDownMs, prefix, maxItemBytes } = memcached
  return { memcached: { servers, timeoutMs, retryDownMs, prefix, maxItemBytes }, memory }
}

/** What the fleet lease is built from (with memcached): a change here replaces the lease only. */
function fleetShape (config: Config): unknown {
  // The fill deadline and the object bound also size a fill streamed through memcached (coalesce/fleet-stream.ts).
  return {
    leaseTtlMs: config.cache.memcached.leaseTtlMs,
    timeoutMs: config.origin.timeoutMs,
    fillBodyTimeoutMs: config.origin.fillBodyTimeoutMs,
    maxObjectBytes: config.cache.maxObjectBytes
  }
}

/** What the purge channel is built from: the purge keys' node and namespace, and the poll. */
function channelShape (config: Config): unknown {
  if (!usesMemcached(config)) return null
  const { servers, prefix, timeoutMs } = config.cache.memcached
  return { servers, prefix, timeoutMs, purge: config.cache.purge }
}

/** What a reload rebuilds. `injectedStore`: a store handed in (tests) is never replaced; `hasL2`: memcached is in use now. */
export interface ReloadPlan {
  readonly store: boolean
  /** The fleet lease alone, keeping the store and L1 (only when the store stays). */
  readonly fleet: boolean
  readonly channel: boolean
}

export function planReload (prev: Config, next: Config, injectedStore: boolean, hasL2: boolean): ReloadPlan {
  const store = !injectedStore && !isDeepStrictEqual(storeShape(prev), storeShape(next))
  return {
    store,
    fleet: !store && hasL2 && !isDeepStrictEqual(fleetShape(prev), fleetShape(next)),
    channel: !injectedStore && !isDeepStrictEqual(channelShape(prev), channelShape(next))
  }
}

/** The changed keys a reload cannot apply: they are read only at start. */
export function keysNeedingRestart (changes: ReadonlyArray<{ readonly key: string }>): string[] {
  return changes.filter((c) => RESTART_KEYS.test(c.key)).map((c) => c.key)
}
