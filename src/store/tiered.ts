import { systemClock, type Clock } from '../core/clock.js'
import { MemoryStore } from './memory.js'
import { isPromise, type CacheRecord, type CacheStore, type MaybePromise } from './types.js'
import { withBody } from './codec.js'

export interface TieredStoreOptions {
  /** The shared tier (memcached). Stores never throw; errors are still swallowed here as a second fence. */
  l2: CacheStore
  /**
   * L1 in front. `maxTtlMs` caps every L1 copy so a fleet notices purges and refreshes made elsewhere within that
   * time; 0 turns L1 off (every read goes to L2), unlike MemoryStore where 0 means "no cap".
   */
  l1: { maxBytes: number, maxTtlMs: number }
  clock?: Clock | undefined
}

/**
 * L1 ► L2. A read answers synchronously on an L1 hit (no microtask), else asks L2 and keeps what it finds in L1
 * for at most `l1.maxTtlMs`. Writes and deletes go to both tiers.
 */
export class TieredStore implements CacheStore {
  readonly name = 'tiered'
  /** Exposed for metrics (`calculatedSize`); undefined when L1 is off. */
  readonly l1: MemoryStore | undefined
  readonly l2: CacheStore
  readonly #clock: Clock
  /**
   * Bumped by every delete: an L2 read that started before a purge must not put the purged record back into L1.
   * One counter for all keys: a purge costs a few L1 fills elsewhere, and a per-key map would cost on every read.
   */
  #deletes = 0

  constructor ({ l1, l2, clock = systemClock }: TieredStoreOptions) {
    this.l1 = l1.maxTtlMs > 0 ? new MemoryStore({ maxBytes: l1.maxBytes, maxTtlMs: l1.maxTtlMs }) : undefined
    this.l2 = l2
    this.#clock = clock
  }

  get (key: string): MaybePromise<CacheRecord | undefined> {
    const l1 = this.l1
    if (l1 === undefined) return this.l2.get(key)
    const hit = l1.get(key)
    if (hit !== undefined) return hit
    const found = this.l2.get(key)
    if (!isPromise(found)) return this.#fill(l1, key, found, this.#deletes)
    const deletes = this.#deletes
    return found.then(
      record => this.#fill(l1, key, record, deletes),
      () => undefined
    )
  }

  async set (key: string, record: CacheRecord, ttlMs: number): Promise<void> {
    this.l1?.set(key, record, ttlMs)
    try {
      await this.l2.set(key, record, ttlMs)
    } catch {}
  }

  async delete (key: string): Promise<void> {
    this.#deletes++
    this.l1?.delete(key)
    try {
      await this.l2.delete(key)
    } catch {}
  }

  async close (): Promise<void> {
    await this.l1?.close()
    try {
      await this.l2.close()
    } catch {}
  }

  /** Keeps an L2 record in L1; answers the record to hand the caller (the L1 copy when one was made). */
  #fill (l1: MemoryStore, key: string, record: CacheRecord | undefined, deletesBefore: number): CacheRecord | undefined {
    if (record === undefined || deletesBefore !== this.#deletes) return record
    // A set that landed while L2 answered is newer than what L2 returned.
    if (l1.get(key) !== undefined) return record
    const ttlMs = record.kind === 'entry'
      ? Math.max(record.freshUntil, record.staleWhileRevalidateUntil, record.staleIfErrorUntil) - this.#clock.now()
      // A Vary index has no deadline of its own: it lives as long as L1 allows.
      : Number.MAX_SAFE_INTEGER
    if (!(ttlMs > 0)) return record
    const own = withOwnBody(record)
    l1.set(key, own, ttlMs)
    return own
  }
}

/**
 * An entry whose body is a view into a larger buffer gets a copy of just its bytes. A body decoded from memcached is
 * a subarray of memjs's read buffer, which can hold many responses (28-64 KiB measured): kept in L1 as is, a 1 KiB
 * entry pins the whole buffer, and L1 could hold ~20x its maxBytes. allocUnsafeSlow, not Buffer.from, whose small
 * copies come from the shared pool (the same problem again). The rest of the record (the headers array the codec may
 * share between entries) is kept as is, in the codec's own entry shape (withBody), so the hit path sees one shape.
 */
function withOwnBody (record: CacheRecord): CacheRecord {
  if (record.kind !== 'entry') return record
  const body = record.body
  if (body.length === body.buffer.byteLength) return record
  const copy = Buffer.allocUnsafeSlow(body.length)
  body.copy(copy)
  return withBody(record, copy)
}
