/**
 * coalesce/hit-for-pass: URLs whose last answer could not be stored for anyone, remembered for a while (Varnish's
 * hit-for-pass, builtin.vcl `vcl_beresp_hitmiss`). A remembered URL's misses go to the origin alone, without the
 * single-flight or the fleet lease, so requests do not queue behind an answer they could never share; a storable
 * answer is still stored and ends the memory. The same word names it in code, metrics, Cache-Status
 * (`detail=hit-for-pass`) and the docs.  [in-process state, no I/O]
 */
import { LRUCache } from 'lru-cache'

/**
 * The memory's bound in bytes (keys are UTF-16 strings in V8, plus the LRU's own bookkeeping per entry). Bounded by
 * count before, 20,000 unique long `no-store` URLs grew the heap by 260 MB and held it 11 minutes (issue 23): URLs
 * may be 16 KiB each. 16 MiB holds about 100,000 URLs of 100 characters; past it the least recently seen URL is
 * forgotten first, which costs that URL one coalesced miss, not a wrong answer.
 */
export const HIT_FOR_PASS_MAX_BYTES = 16 * 1024 * 1024
const ENTRY_OVERHEAD_BYTES = 64

export class HitForPass {
  // ttlAutopurge: an expired URL is freed when it expires, not when it is next looked up (it may never be). It costs
  // a timer per remembered URL, paid only by uncacheable answers, never by a hit.
  readonly #urls = new LRUCache<string, true | 'shared'>({
    maxSize: HIT_FOR_PASS_MAX_BYTES,
    sizeCalculation: (_value, key) => key.length * 2 + ENTRY_OVERHEAD_BYTES,
    ttl: 60_000,
    ttlAutopurge: true
  })

  /** cache.hitForPassSeconds in ms; 0 switches the memory off. Set again on reload. */
  ttlMs: number

  constructor (ttlMs: number) {
    this.ttlMs = ttlMs
  }

  /** Is this URL remembered as uncacheable? The size check first: with nothing remembered, a miss pays no lookup. */
  has (primaryKey: string): boolean {
    return this.#urls.size !== 0 && this.#urls.has(primaryKey)
  }

  /** The origin answered with something no requester could share (no-store, private, …, for an anonymous request). */
  remember (primaryKey: string, shared = false): void {
    if (this.ttlMs > 0) this.#urls.set(primaryKey, shared ? 'shared' : true, { ttl: this.ttlMs })
  }

  /**
   * Remembered as too large to store but shareable (origin/shared-stream.ts): its GETs still coalesce behind one
   * fetch each, only a Range or a HEAD goes to the origin alone.
   */
  isShared (primaryKey: string): boolean {
    return this.#urls.size !== 0 && this.#urls.get(primaryKey) === 'shared'
  }

  /** URLs remembered, and the bytes they are counted as (bounded by HIT_FOR_PASS_MAX_BYTES). */
  get size (): { urls: number, bytes: number } {
    return { urls: this.#urls.size, bytes: this.#urls.calculatedSize }
  }

  /** A storable answer, a purge or an invalidation: the URL is cacheable again (or must be asked again). */
  forget (primaryKey: string): void {
    if (this.#urls.size !== 0) this.#urls.delete(primaryKey)
  }
}
