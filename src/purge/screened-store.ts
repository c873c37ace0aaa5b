/**
 * purge/screened-store: memcached as the purge records leave it. Wraps the shared tier so that every entry read from
 * it (by L1 on a miss, by a fleet follower polling for a fill) has been through the ban list: an entry filled
 * before a matching purge is a miss (hard) or comes back stale (soft). memcached copies are never rewritten by a
 * purge; every proxy applies the records it knows on read. Costs a local check per memcached read, no round trip.
 */
import { isSharedTier, UNREACHABLE, type SharedTier, type Unreachable } from '../store/shared-tier.js'
import type { CacheRecord, CacheStore, MaybePromise, StoredEntry } from '../store/types.js'
import type { BanList } from './bans.js'
import { hasRangedReads, hasStreamedReads, type PickBytes, type RangedTier, type StreamedTier } from '../store/ranged-tier.js'
import { partOf } from '../store/entry-part.js'

export class ScreenedStore implements SharedTier, RangedTier, StreamedTier {
  readonly name: string
  readonly #inner: CacheStore
  readonly #bans: BanList

  constructor (inner: CacheStore, bans: BanList) {
    this.name = inner.name
    this.#inner = inner
    this.#bans = bans
  }

  get (key: string): MaybePromise<CacheRecord | undefined> {
    const found = this.#inner.get(key)
    return found instanceof Promise ? found.then(this.#screen) : this.#screen(found)
  }

  readonly #screen = (record: CacheRecord | undefined): CacheRecord | undefined =>
    record?.kind === 'entry' ? this.#bans.screen(record) : record

  /**
   * The shared tier's outage-aware read (store/shared-tier.ts), screened like get: TieredStore's outage mode must see
   * through this wrapper (issue 13 item 7), or L1 would fall back to its 1 s cap while memcached is down.
   */
  async lookup (key: string): Promise<CacheRecord | undefined | Unreachable> {
    const inner = this.#inner
    const found = isSharedTier(inner) ? await inner.lookup(key) : await inner.get(key)
    return found === UNREACHABLE ? found : this.#screen(found)
  }

  /**
   * A Range request's read (store/ranged-tier.ts), screened like lookup. A part purged softly would be a stale part,
   * which nothing may serve (store/entry-part.ts): the entry is read whole instead, then screened as lookup does.
   */
  async lookupRange (key: string, pick: PickBytes): Promise<CacheRecord | undefined | Unreachable> {
    const inner = this.#inner
    if (!hasRangedReads(inner)) return await this.lookup(key)
    const found = await inner.lookupRange(key, pick)
    if (found === UNREACHABLE || found?.kind !== 'entry' || partOf(found) === undefined) return found === UNREACHABLE ? found : this.#screen(found)
    const screened = this.#bans.screen(found)
    return screened === found || screened === undefined ? screened : await this.lookup(key)
  }

  /** A fresh full GET's streamed read (store/chunk-stream.ts); a part a purge touched is read whole instead (null). */
  async lookupStream (key: string, pick: PickBytes): Promise<StoredEntry | null> {
    const inner = this.#inner
    if (!hasStreamedReads(inner)) return null
    const part = await inner.lookupStream(key, pick)
    return part === null || this.#bans.screen(part) !== part ? null : part
  }

  isReachable (key: string): boolean {
    const inner = this.#inner
    return isSharedTier(inner) ? inner.isReachable(key) : true
  }

  onNodeBack (listener: () => void): void {
    const inner = this.#inner
    if (isSharedTier(inner)) inner.onNodeBack(listener)
  }

  set (key: string, record: CacheRecord, ttlMs: number): MaybePromise<void> {
    return this.#inner.set(key, record, ttlMs)
  }

  delete (key: string): MaybePromise<void> {
    return this.#inner.delete(key)
  }

  async close (): Promise<void> {
    await this.#inner.close()
  }
}
