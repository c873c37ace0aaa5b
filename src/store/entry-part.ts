/**
 * store/entry-part: an entry read for one Range request from only the memcached chunks that range needs
 * (chunk-ranges.ts). It has the stored entry's metadata and an empty body; the bytes it holds are here, beside it.
 * Such an entry answers one Range as a hit and nothing else: it never enters L1, a memo, a revalidation or a stale
 * answer (steps/range-read.ts reads the whole entry for those), so a part can never be sent as if it were the whole.
 */
import type { StoredEntry } from '../core/entry.js'

export interface EntryPart {
  /** Offset in the whole body of `bytes[0]`. */
  readonly start: number
  /** Body bytes start..start + bytes.length - 1 (empty when the answer needs none: a 304 or a 416). */
  readonly bytes: Buffer
  /** The whole body's length: what Content-Range names. */
  readonly totalBytes: number
  /** The rest of a long range, read a chunk at a time as the client takes it; null when `bytes` holds all of it. */
  readonly rest: PartRest | null
  /** The whole body for a full GET, from `rest` as its chunks arrive (store/chunk-stream.ts): answered 200, not 206. */
  readonly whole: boolean
}

/** The bytes of a range after a part's `bytes`, in order. */
export interface PartRest {
  /**
   * The next bytes; undefined once the range is complete; 'torn' when a chunk is missing or wrong, 'failed' when the
   * node did not answer (the answer, already under way, must be cut off). Never rejects.
   */
  next (): Promise<Buffer | 'torn' | 'failed' | undefined>
  /** The client is gone or cut off: no more reads. */
  close (): void
}

/** Keyed by the entry object itself, made fresh for each ranged read and never shared, and weakly. */
const PARTS = new WeakMap<StoredEntry, EntryPart>()

/** `entry` (metadata, an empty body) becomes a part holding `part`'s bytes. */
export function markPart (entry: StoredEntry, part: EntryPart): StoredEntry {
  PARTS.set(entry, part)
  return entry
}

/** The bytes a part holds; undefined for an entry with its whole body. */
export function partOf (entry: StoredEntry): EntryPart | undefined {
  return PARTS.get(entry)
}
