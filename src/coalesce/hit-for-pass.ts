/**
 * coalesce/hit-for-pass: URLs whose last answer could not be stored for anyone, remembered for a while (Varnish's
 * hit-for-pass, builtin.vcl `vcl_beresp_hitmiss`). A remembered URL's misses go to the origin alone, without the
 * single-flight or the fleet lease, so requests do not queue behind an answer they could never share; a storable
 * answer is still stored and ends the memory. The same word names it in code, metrics, Cache-Status
 * (`detail=hit-for-pass`) and the docs.  [in-process state, no I/O]
 */
import { LRUCache } from 'lru-cache'

export class HitForPass {
  readonly #urls = new LRUCache<string, true | 'shared'>({ max: 100_000, ttl: 60_000 })
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

  /** A storable answer, a purge or an invalidation: the URL is cacheable again (or must be asked again). */
  forget (primaryKey: string): void {
    if (this.#urls.size !== 0) this.#urls.delete(primaryKey)
  }
}
