/**
 * config/size-warnings: a config that is valid but cannot do what its sizes suggest, said by `corral check`. Pure.
 */
import type { Config } from './types.js'

/** L1's fixed cost per entry beyond its body (store/types.ts recordSize), with room for a typical head of fields. */
const ENTRY_OVERHEAD_BYTES = 8 * 1024

/** Warnings (not errors: the proxy still serves) about object and cache sizes, each naming the keys to change. */
export function sizeWarnings (config: Config): string[] {
  const { maxObjectBytes, memory, memcached } = config.cache
  const warnings: string[] = []
  if (maxObjectBytes + ENTRY_OVERHEAD_BYTES > memory.maxBytes) {
    const memcachedOn = memcached.enabled && memcached.servers.length > 0
    warnings.push(
      `cache.maxObjectBytes (${maxObjectBytes}) exceeds what L1 can hold (cache.memory.maxBytes ${memory.maxBytes}): ` +
      (memcachedOn
        ? 'an object that large is read from memcached chunks on every request instead of from memory'
        : 'an object that large is never stored (no memcached): each request for it goes to the origin') +
      '; raise cache.memory.maxBytes or lower cache.maxObjectBytes'
    )
  }
  return warnings
}
