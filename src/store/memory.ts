import { LRUCache } from 'lru-cache'
import { recordSize, type CacheRecord, type CacheStore, type StoredEntry } from './types.js'

export interface MemoryStoreOptions {
  maxBytes: number
  /** Upper bound on any record's lifetime here, ms (0 = none). Keeps a fleet's L1 copies coherent with memcached. */
  maxTtlMs?: number
  /** The clock lru-cache measures TTLs with (tests pass a fake one); performance.now() by default. */
  perf?: { now (): number }
  /**
   * Leave a record whose TTL ran out in place until it is evicted or replaced (a get still misses), so `peekExpired`
   * can find it: TieredStore's L1 serves it on when memcached cannot be asked (see tiered.ts, #carry).
   */
  keepExpired?: boolean
}

/** L1: an in-process LRU bounded in bytes. `get` is synchronous so a memory hit costs no microtask. */
export class MemoryStore implements CacheStore {
  readonly name = 'memory'
  readonly #lru: LRUCache<string, CacheRecord>
  readonly #maxTtlMs: number

  constructor ({ maxBytes, maxTtlMs = 0, perf, keepExpired = false }: MemoryStoreOptions) {
    this.#maxTtlMs = maxTtlMs
    this.#lru = new LRUCache<string, CacheRecord>({
      maxSize: maxBytes,
      sizeCalculation: recordSize,
      // lru-cache checks expiry on read; a stale record past its stale windows is worthless.
      ttlAutopurge: false,
      allowStale: false,
      // Only lru-cache's expired-record branch reads this: the hit path does the same work either way.
      noDeleteOnStaleGet: keepExpired,
      // lru-cache reads the clock through a cached value refreshed by a timer every ttlResolution ms; at the default
      // of 1 ms that timer re-arms every millisecond under load (measurable on the hit path, --cpu-prof). Its TTL
      // only drops records that are useless anyway or caps L1 copies (maxTtlMs), so 100 ms late is fine; the
      // entry's own deadlines decide freshness to the millisecond. An injected clock is read on every check.
      ...(perf === undefined ? { ttlResolution: 100 } : { perf, ttlResolution: 0 })
    })
  }

  get (key: string): CacheRecord | undefined {
    const record = this.#lru.get(key)
    // The full key is checked on every tier, so a store never answers for another key.
    return record !== undefined && record.key === key ? record : undefined
  }

  set (key: string, record: CacheRecord, ttlMs: number): void {
    const ttl = this.#maxTtlMs > 0 ? Math.min(ttlMs, this.#maxTtlMs) : ttlMs
    if (ttl <= 0) return
    // A record bigger than the whole cache would evict everything for nothing.
    const size = recordSize(record)
    if (size > this.#lru.maxSize) return
    // Given its size, lru-cache does not walk the record again through sizeCalculation.
    this.#lru.set(key, record, { ttl: Math.ceil(ttl), size })
  }

  /** `set` past the maxTtlMs cap: while the shared tier is unreachable nothing newer can be learnt by asking it. */
  keep (key: string, record: CacheRecord, ttlMs: number): void {
    if (!(ttlMs > 0)) return
    const size = recordSize(record)
    if (size > this.#lru.maxSize) return
    this.#lru.set(key, record, { ttl: Math.ceil(ttlMs), size })
  }

  /** The record under `key` whether or not its TTL ran out (with keepExpired); recency unchanged. */
  peekExpired (key: string): CacheRecord | undefined {
    const record = this.#lru.peek(key, { allowStale: true })
    return record !== undefined && record.key === key ? record : undefined
  }

  /**
   * Brings every record kept past the cap (`keep`) back to at most maxTtlMs from now. One walk per node recovery,
   * least recently used first so re-setting keeps the LRU order.
   */
  capTtl (): void {
    const cap = this.#maxTtlMs
    if (cap <= 0) return
    for (const key of [...this.#lru.rkeys()]) {
      if (this.#lru.getRemainingTTL(key) <= cap) continue
      const record = this.#lru.peek(key)
      if (record !== undefined) this.#lru.set(key, record, { ttl: cap })
    }
  }

  delete (key: string): void {
    this.#lru.delete(key)
  }

  /**
   * Apply a purge to every entry held here, at once (purge/sweep.ts), so that a memory hit never checks purges:
   * `change` answers the entry to keep, undefined to drop it, or a replacement (kept for the TTL it had left).
   * Answers how many entries it dropped or replaced. O(entries): run once per purge, never per request.
   */
  sweep (change: (entry: StoredEntry) => StoredEntry | undefined): number {
    const changes: Array<[string, StoredEntry | undefined]> = []
    // Collected first: lru-cache's iterators are not specified for writes under way.
    for (const [key, record] of this.#lru.entries()) {
      if (record.kind !== 'entry') continue
      const next = change(record)
      if (next !== record) changes.push([key, next])
    }
    for (const [key, next] of changes) {
      if (next === undefined) {
        this.#lru.delete(key)
        continue
      }
      const ttl = this.#lru.getRemainingTTL(key)
      if (ttl > 0) this.#lru.set(key, next, { ttl: Number.isFinite(ttl) ? Math.ceil(ttl) : 0, size: recordSize(next) })
    }
    return changes.length
  }

  get calculatedSize (): number {
    return this.#lru.calculatedSize
  }

  get size (): number {
    return this.#lru.size
  }

  async close (): Promise<void> {
    this.#lru.clear()
  }
}
