import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { MetaMemo } from './codec.js'

/** `prefix + base64url(sha256(fullKey))`: ≤ 250 bytes and free of spaces whatever the URL; the full key is checked on read. */
export function memcachedKey (prefix: string, fullKey: string): string {
  return prefix + createHash('sha256').update(fullKey).digest('base64url')
}

export function leaseKey (prefix: string, fullKey: string): string {
  return memcachedKey(prefix + 'lease:', fullKey)
}

/**
 * Keys longer than this are hashed on every operation instead of memoised: URLs can be ~16 KiB, and the two memos of
 * 10,000 keys each would otherwise hold ~145 MiB outside every memory limit. Short keys, the common case, keep the memo.
 */
const MAX_MEMO_KEY_CHARS = 512
const MEMO_ENTRIES = 10_000
/** 8 MiB of decoded metadata: 10,000 entries of typical (under 1 KiB) headers, fewer when headers are long. */
export const META_MEMO_MAX_BYTES = 8 * 1024 * 1024

/**
 * What a memcached hit would otherwise recompute per operation: the hashed item key (a SHA-256 cost about 3 µs of a
 * memcached hit, --cpu-prof) and the decoded metadata of a stored version already seen (codec.ts, MetaMemo).
 */
export class KeyMemo {
  readonly #prefix: string
  readonly #itemKeys = new LRUCache<string, string>({ max: MEMO_ENTRIES })
  // Bounded in bytes as well: a stored version's metadata carries the origin's headers, which an origin (or a page
  // per URL with a long header) can make several KiB each. The size is the metadata's encoded length (codec.ts).
  readonly #meta: MetaMemo = new LRUCache({ max: MEMO_ENTRIES, maxSize: META_MEMO_MAX_BYTES, sizeCalculation: () => 1024 })

  constructor (prefix: string) {
    this.#prefix = prefix
  }

  itemKey (key: string): string {
    if (key.length > MAX_MEMO_KEY_CHARS) return memcachedKey(this.#prefix, key)
    let itemKey = this.#itemKeys.get(key)
    if (itemKey === undefined) {
      itemKey = memcachedKey(this.#prefix, key)
      this.#itemKeys.set(key, itemKey)
    }
    return itemKey
  }

  /** The metadata memo to decode `key`'s item with; none for a long key (see MAX_MEMO_KEY_CHARS). */
  metaFor (key: string): MetaMemo | undefined {
    return key.length > MAX_MEMO_KEY_CHARS ? undefined : this.#meta
  }

  get sizes (): { itemKeys: number, meta: number } {
    return { itemKeys: this.#itemKeys.size, meta: this.#meta.size }
  }

  /** What the metadata memo counts itself as (bounded by META_MEMO_MAX_BYTES). */
  get metaBytes (): number {
    return this.#meta.calculatedSize
  }
}
