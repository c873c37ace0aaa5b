/**
 * coalesce/drop-local-copy: after a fleet follower's wait ends in another process's fill, this process's L1 must not
 * keep the copy being replaced. A stale-while-revalidate refresh (a soft purge's, say) that followed another proxy's
 * lease returns the fill to nobody; with the old copy still in L1 for cache.memory.maxTtlSeconds, the next request
 * here would be STALE again and start a second refresh, which finds the lease free and asks the origin once more (seen
 * in test/integration/purge.test.ts: two origin requests per fleet for one soft purge). Dropping the L1 copy sends the
 * next request to memcached, where the fill is.
 */
import type { CacheStore } from '../store/types.js'
import { TieredStore } from '../store/tiered.js'

export function dropLocalCopy (store: CacheStore, key: string): void {
  if (store instanceof TieredStore) store.l1?.delete(key)
}
