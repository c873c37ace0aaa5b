/**
 * store/ranged-tier: reads for a Range request that fetch only the body bytes the answer needs. The store knows no
 * HTTP: the caller passes `pick`, which looks at the entry's metadata and says which bytes of its body it wants.
 */
import type { StoredEntry } from '../core/entry.js'
import type { Unreachable } from './shared-tier.js'
import type { CacheRecord, CacheStore, MaybePromise } from './types.js'

/**
 * - whole: the whole entry (no Range the part can answer, not fresh, a coded body): the store reads it as `get` does;
 * - none: no body byte (a 304, a 416);
 * - slice: body bytes `start`..`end`, inclusive;
 * - stream: the whole body for a fresh full GET, sent as its chunks arrive (chunk-stream.ts).
 */
export type BytesWanted =
  | { readonly kind: 'whole' }
  | { readonly kind: 'none' }
  | { readonly kind: 'slice', readonly start: number, readonly end: number }
  | { readonly kind: 'stream' }

/** Which bytes of an entry's body (`bodyBytes` long) a request wants, from its metadata (the body is empty). */
export type PickBytes = (meta: StoredEntry, bodyBytes: number) => BytesWanted

/** A shared tier (memcached) that can read part of a chunked entry. */
export interface RangedTier {
  /** A whole record (one item, or whole when `pick` says so), a part (entry-part.ts), a miss, or UNREACHABLE. */
  lookupRange (key: string, pick: PickBytes): Promise<CacheRecord | undefined | Unreachable>
}

export function hasRangedReads (store: CacheStore): store is CacheStore & RangedTier {
  return typeof (store as Partial<RangedTier>).lookupRange === 'function'
}

/** A store whose reads for a Range request can stop at the bytes wanted (tiered.ts, over a ranged tier). */
export interface RangedStore extends CacheStore {
  getRange (key: string, pick: PickBytes): MaybePromise<CacheRecord | undefined>
}

export function isRangedStore (store: CacheStore): store is RangedStore {
  return typeof (store as Partial<RangedStore>).getRange === 'function'
}

/** A shared tier (memcached) that can stream a chunked entry's whole body as its chunks arrive. */
export interface StreamedTier {
  /** A part holding the whole body as a stream (entry-part.ts), when `pick` says `stream`; null: read it as `get` does. */
  lookupStream (key: string, pick: PickBytes): Promise<StoredEntry | null>
}

export function hasStreamedReads (store: CacheStore): store is CacheStore & StreamedTier {
  return typeof (store as Partial<StreamedTier>).lookupStream === 'function'
}

/** A store whose full reads, after an L1 miss, can stream a chunked entry (tiered.ts, over a streamed tier). */
export interface StreamingStore extends CacheStore {
  getStreamed (key: string, pick: PickBytes): Promise<StoredEntry | null>
}

export function isStreamingStore (store: CacheStore): store is StreamingStore {
  return typeof (store as Partial<StreamingStore>).getStreamed === 'function'
}
