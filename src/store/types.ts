/**
 * The cache store contract. A store keeps records (core/entry.ts) by their full cache key and knows nothing about
 * HTTP.
 */

import type { CacheRecord } from '../core/entry.js'

export type { EntryDeadlines, StoredEntry, VaryIndex, CacheRecord } from '../core/entry.js'

export type MaybePromise<T> = T | Promise<T>

/**
 * `get` may answer synchronously (the in-memory tier does) so a memory hit costs no microtask; callers check
 * for a promise with `isPromise`. Store errors never leave a store: they become a miss, a metric and a log line.
 */
export interface CacheStore {
  readonly name: string
  get (key: string): MaybePromise<CacheRecord | undefined>
  /** `ttlMs` is how long the record may be useful at all (past every stale window). */
  set (key: string, record: CacheRecord, ttlMs: number): MaybePromise<void>
  delete (key: string): MaybePromise<void>
  close (): Promise<void>
}

/** A fleet-wide lock used by coalescing: memcached `add`, so exactly one holder wins until it releases or the TTL ends. */
export interface LeaseStore {
  /**
   * 'acquired': this caller holds the lease; 'held': another process does; 'unavailable': the lease node is down or
   * slow, and callers fail open to in-process coalescing (the origin sees at most one request per process).
   */
  tryLease (key: string, ttlMs: number): Promise<'acquired' | 'held' | 'unavailable'>
  release (key: string): Promise<void>
}

/** Bytes a record costs in memory: body plus headers plus a fixed per-entry overhead. */
export function recordSize (record: CacheRecord): number {
  if (record.kind === 'vary') return 256 + record.key.length * 2
  let size = 512 + record.key.length * 2 + record.body.length
  for (let i = 0; i < record.headers.length; i++) size += (record.headers[i] as string).length * 2
  return size
}

export function isPromise<T> (value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function'
}
