/**
 * The cache store contract. A store keeps records by their full cache key and knows nothing about HTTP:
 * every HTTP decision was made before `set` (policy/storable.ts) and is carried inside the record as
 * numbers, so a read compares deadlines and never re-parses headers.
 */

/** When a stored response is fresh, may be served stale, or may stand in for an error: numbers a hit compares. */
export interface EntryDeadlines {
  /** Epoch ms when the response arrived from the origin (or was last revalidated). */
  readonly storedAt: number
  /** Seconds of age the response already had on arrival (RFC 9111 §4.2.3 corrected initial age). */
  readonly initialAgeSeconds: number
  /** Epoch ms: fresh before this instant. */
  readonly freshUntil: number
  /** Epoch ms: after freshUntil and before this, serve stale while one request refreshes (RFC 5861 §3, grace). */
  readonly staleWhileRevalidateUntil: number
  /** Epoch ms: before this, a stale copy may answer when the origin fails (RFC 5861 §4). */
  readonly staleIfErrorUntil: number
  /** must-revalidate / proxy-revalidate / no-cache: never served stale without the origin's word. */
  readonly mustRevalidate: boolean
}

/** A cached response, ready to write: `headers` go to `res.writeHead` as they are. */
export interface StoredEntry extends EntryDeadlines {
  readonly kind: 'entry'
  /** The full cache key (primary key + variant). Stores check it on read so a hash collision is a miss. */
  readonly key: string
  readonly status: number
  /** Flat `[name, value, name, value, …]`, lower-case names, hop-by-hop and `age` already removed. */
  readonly headers: readonly string[]
  readonly body: Buffer
  readonly etag: string | undefined
  readonly lastModified: string | undefined
}

/**
 * Stored under a URL's primary key when the origin answered with `Vary`: says which request headers pick the
 * variant. `epoch` is part of every variant key, so a purge (which deletes this index) orphans all variants at
 * once without having to enumerate them in memcached.
 */
export interface VaryIndex {
  readonly kind: 'vary'
  readonly key: string
  /** Lower-case request header names, in the order the origin listed them. */
  readonly varyHeaders: readonly string[]
  readonly epoch: string
  readonly storedAt: number
}

export type CacheRecord = StoredEntry | VaryIndex

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
  /** true for 'acquired' or 'unavailable' (fail open). */
  acquire (key: string, ttlMs: number): Promise<boolean>
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
