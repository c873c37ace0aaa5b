import { systemClock, type Clock } from '../core/clock.js'
import { MemoryStore } from './memory.js'
import { isPromise, type CacheRecord, type CacheStore, type MaybePromise, type StoredEntry } from './types.js'
import { withOwnBytes } from './codec.js'
import { isSharedTier, UNREACHABLE, type SharedTier } from './shared-tier.js'
import { ReadFlight } from './read-flight.js'
import { hasRangedReads, hasStreamedReads, type PickBytes, type RangedStore, type StreamingStore } from './ranged-tier.js'
import { partOf } from './entry-part.js'

export interface TieredStoreOptions {
  /** The shared tier (memcached). Stores never throw; errors are still swallowed here as a second fence. */
  l2: CacheStore
  /**
   * L1 in front. `maxTtlMs` caps every L1 copy so a fleet notices purges and refreshes made elsewhere within that
   * time; 0 turns L1 off (every read goes to L2), unlike MemoryStore where 0 means "no cap". `perf`: the clock L1's
   * TTLs are measured with (tests), as in MemoryStore.
   */
  l1: { maxBytes: number, maxTtlMs: number, perf?: { now (): number } }
  clock?: Clock | undefined
}

/**
 * L1 ► L2. A read answers synchronously on an L1 hit (no microtask), else asks L2 and keeps what it finds in L1
 * for at most `l1.maxTtlMs`. Writes and deletes go to both tiers.
 *
 * The cap exists so a fleet sees purges and refreshes made elsewhere; it buys nothing while the shared tier cannot be
 * asked, and it cost the origin one request per page per cap per process during a memcached outage (issue 13 item
 * 7). So while the node that owns a key is unreachable, L1 keeps that key's entry for its own deadlines (fresh, stale
 * windows; a Vary index stays capped, and is carried on from lookup to lookup): a write then goes to L1 uncapped,
 * and an L1 copy whose cap ran out is served on when the shared tier could not answer. When a node answers again
 * every L1 copy returns to the cap. The target (docs/architecture.md, Lessons): each page reaches the origin at most once per freshness lifetime per
 * process while memcached is down.
 */
export class TieredStore implements RangedStore, StreamingStore {
  readonly name = 'tiered'
  /** Exposed for metrics (`calculatedSize`); undefined when L1 is off. */
  readonly l1: MemoryStore | undefined
  readonly l2: CacheStore
  /** l2 when it can tell a miss from an outage (memcached); undefined for a plain store or with L1 off. */
  readonly #shared: SharedTier | undefined
  readonly #clock: Clock
  /**
   * Bumped by every delete: an L2 read that started before a purge must not put the purged record back into L1.
   * One counter for all keys: a purge costs a few L1 fills elsewhere, and a per-key map would cost on every read.
   */
  #deletes = 0
  /**
   * With L1 off, reads of one key share the L2 read in flight (read-flight.ts): the shared tier is wrapped (the purge
   * screen, purge/screened-store.ts) in a `then` per read, and a burst of requests for one page paid a promise and a
   * microtask each for the same answer. A write or delete through this store ends the sharing.
   */
  readonly #reads = new ReadFlight<CacheRecord | undefined>()

  constructor ({ l1, l2, clock = systemClock }: TieredStoreOptions) {
    const shared = isSharedTier(l2) && l1.maxTtlMs > 0 ? l2 : undefined
    this.l1 = l1.maxTtlMs > 0 ? new MemoryStore({ maxBytes: l1.maxBytes, maxTtlMs: l1.maxTtlMs, keepExpired: shared !== undefined, ...(l1.perf === undefined ? {} : { perf: l1.perf }) }) : undefined
    this.l2 = l2
    this.#shared = shared
    this.#clock = clock
    const memory = this.l1
    if (shared !== undefined && memory !== undefined) shared.onNodeBack(() => { memory.capTtl() })
  }

  get (key: string): MaybePromise<CacheRecord | undefined> {
    const l1 = this.l1
    if (l1 === undefined) return this.#reads.joined(key) ?? this.#readL2(key)
    const hit = l1.get(key)
    if (hit !== undefined) return hit
    const shared = this.#shared
    if (shared !== undefined) {
      const deletes = this.#deletes
      return shared.lookup(key).then(
        found => found === UNREACHABLE ? this.#carry(l1, key) : this.#fill(l1, key, found, deletes),
        () => undefined
      )
    }
    const found = this.l2.get(key)
    if (!isPromise(found)) return this.#fill(l1, key, found, this.#deletes)
    const deletes = this.#deletes
    return found.then(
      record => this.#fill(l1, key, record, deletes),
      () => undefined
    )
  }

  #readL2 (key: string): MaybePromise<CacheRecord | undefined> {
    const found = this.l2.get(key)
    return isPromise(found) ? this.#reads.track(key, found) : found
  }

  /**
   * `get` for a Range request: L1's copy when it has one, else the shared tier reads only the chunks the range needs
   * (store/chunk-ranges.ts). A part (entry-part.ts) is handed to the caller and never kept in L1; a whole record
   * read this way is kept as `get` keeps it.
   */
  getRange (key: string, pick: PickBytes): MaybePromise<CacheRecord | undefined> {
    const { l1, l2 } = this
    if (!hasRangedReads(l2)) return this.get(key)
    const hit = l1?.get(key)
    if (hit !== undefined) return hit
    const deletes = this.#deletes
    return l2.lookupRange(key, pick).then(found => {
      if (found === UNREACHABLE) return l1 === undefined || this.#shared === undefined ? undefined : this.#carry(l1, key)
      if (found?.kind === 'entry' && partOf(found) !== undefined) return found
      return l1 === undefined ? found : this.#fill(l1, key, found, deletes)
    }, () => undefined)
  }

  /**
   * After an L1 miss, a fresh full GET's read (steps/range-read.ts): a part that streams a chunked entry as its chunks
   * arrive (store/chunk-stream.ts), or null: `get`'s read, already under way, answers (and fills L1, as ever).
   */
  getStreamed (key: string, pick: PickBytes): Promise<StoredEntry | null> {
    const { l2 } = this
    return hasStreamedReads(l2) ? l2.lookupStream(key, pick).catch(() => null) : NO_STREAM
  }

  async set (key: string, record: CacheRecord, ttlMs: number): Promise<void> {
    this.#reads.forget(key)
    const l1 = this.l1
    if (l1 !== undefined) {
      const keepMs = this.#shared?.isReachable(key) === false ? outageKeepMs(record, ttlMs, this.#clock.now()) : 0
      if (keepMs > 0) l1.keep(key, record, keepMs)
      else l1.set(key, record, ttlMs)
    }
    try {
      await this.l2.set(key, record, ttlMs)
    } catch {}
  }

  async delete (key: string): Promise<void> {
    this.#deletes++
    this.#reads.forget(key)
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
      ? lastDeadline(record) - this.#clock.now()
      // A Vary index has no deadline of its own: it lives as long as L1 allows.
      : Number.MAX_SAFE_INTEGER
    if (!(ttlMs > 0)) return record
    // A body of its own (codec.ts withOwnBytes): a view into memjs's read would pin the whole read in L1.
    const own = withOwnBytes(record)
    l1.set(key, own, ttlMs)
    return own
  }

  /**
   * The shared tier could not answer: the L1 copy whose cap ran out (still in place, keepExpired) stands in for it
   * while one of its deadlines is ahead, kept now for the rest of them. Past them it is a miss, as L1 would say.
   */
  #carry (l1: MemoryStore, key: string): CacheRecord | undefined {
    const kept = l1.peekExpired(key)
    if (kept === undefined) return undefined
    if (kept.kind === 'vary') {
      l1.set(key, kept, Number.MAX_SAFE_INTEGER)
      return kept
    }
    const keepMs = lastDeadline(kept) - this.#clock.now()
    if (!(keepMs > 0)) return undefined
    l1.keep(key, kept, keepMs)
    return kept
  }
}

/** The last instant an entry is any use to a hit: fresh, served stale while revalidating, or standing in for an error. */
const NO_STREAM: Promise<StoredEntry | null> = Promise.resolve(null)

function lastDeadline (entry: StoredEntry): number {
  return Math.max(entry.freshUntil, entry.staleWhileRevalidateUntil, entry.staleIfErrorUntil)
}

/**
 * How long L1 keeps a write while its shared node is unreachable: up to the entry's last deadline (never longer than
 * the caller asked); 0 for a Vary index or an entry past its deadlines, which keep the ordinary cap.
 */
function outageKeepMs (record: CacheRecord, ttlMs: number, now: number): number {
  if (record.kind !== 'entry') return 0
  return Math.min(ttlMs, lastDeadline(record) - now)
}
