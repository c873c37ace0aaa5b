/**
 * store/record-memo: the record decoded from a stored version, kept by full key and stamp (codec.ts: random per
 * encode, so it names one stored version), so that reading the same version again costs a comparison instead of a
 * decode. A read from memcached decoded its item every time: with L1 off (or each time L1's short cap runs out) a
 * page stored with coded bodies paid a brotli decode of its identity bytes per get (0.2-0.6 ms for 100 KiB, this
 * machine, bench/micro-memcached.ts), and a plain page a new entry object, whose hit header list was then built anew.
 *
 * Not a second L1: a record is handed out only when memcached has just answered with an item of the same stamp, so a
 * version overwritten (by any proxy) or deleted is never served from here; the memo only spares the decode.
 */
import { LRUCache } from 'lru-cache'
import type { CacheRecord } from './types.js'
import { withOwnBytes } from './codec.js'

/**
 * What the memo may hold, in bytes (the items' sizes, plus identity bodies decoded from coded ones). The cost is this
 * much memory per process on top of L1, whether L1 is on or off; with L1 on most of it is the same buffers L1 holds.
 * A hot set larger than this decodes the colder versions again, as every version was decoded before.
 */
export const RECORD_MEMO_MAX_BYTES = 16 * 1024 * 1024
/** One version may take at most this share, so a few large pages cannot push out every hot small one. */
const MAX_RECORD_BYTES = RECORD_MEMO_MAX_BYTES / 8

interface Remembered {
  readonly stamp: number
  readonly record: CacheRecord
}

export class RecordMemo {
  readonly #records = new LRUCache<string, Remembered>({ max: 10_000, maxSize: RECORD_MEMO_MAX_BYTES })

  /** The record decoded before from `key`'s version `stamp`, if it is still here. */
  get (key: string, stamp: number): CacheRecord | undefined {
    const known = this.#records.get(key)
    return known !== undefined && known.stamp === stamp ? known.record : undefined
  }

  /**
   * Keeps `record`, decoded from `key`'s version `stamp` (an item of `itemBytes`), and returns what to hand out: the
   * record with bytes of its own (a view into memjs's read would pin the whole read here), or the record as it is
   * when it is too large to keep.
   */
  keep (key: string, stamp: number, record: CacheRecord, itemBytes: number): CacheRecord {
    const bytes = itemBytes + key.length * 2 + (record.kind === 'entry' && record.encoded !== undefined ? record.body.length : 0)
    if (bytes > MAX_RECORD_BYTES) {
      this.#records.delete(key)
      return record
    }
    const owned = withOwnBytes(record)
    this.#records.set(key, { stamp, record: owned }, { size: bytes })
    return owned
  }

  /** `key` was deleted here: its version need not be kept. */
  forget (key: string): void {
    this.#records.delete(key)
  }

  get size (): number {
    return this.#records.size
  }

  /** What the memo counts itself as (bounded by RECORD_MEMO_MAX_BYTES). */
  get bytes (): number {
    return this.#records.calculatedSize
  }
}
