import type { CacheRecord, CacheStore } from './types.js'

/** A lookup the shared tier could not answer: the node that owns the key is down, failed or timed out. */
export const UNREACHABLE: unique symbol = Symbol('unreachable')
export type Unreachable = typeof UNREACHABLE

/**
 * A shared tier (memcached) that can tell "not there" from "could not ask". TieredStore keeps its short L1 cap only
 * while the shared tier can be asked: during an outage an L1 copy is served for its own deadlines instead, so the
 * origin is not asked once per cap per page (issue 13 item 7).
 */
export interface SharedTier extends CacheStore {
  lookup (key: string): Promise<CacheRecord | undefined | Unreachable>
  /** false while the node that owns `key` is marked down. */
  isReachable (key: string): boolean
  /** Called each time a node that was down answers again. */
  onNodeBack (listener: () => void): void
}

export function isSharedTier (store: CacheStore): store is SharedTier {
  return typeof (store as Partial<SharedTier>).lookup === 'function'
}
