/**
 * store/chunked-memo: a chunked entry already in this process is not read again from memcached while its head names the
 * same version. L1 holds copies for at most maxTtlSeconds (1 s) with memcached configured, so without this a hot 30 MB
 * clip would be read whole from memcached once a second per proxy; with it, once a second costs a 30-byte head read.
 * The body is held weakly: the memo costs no memory beyond what L1 (or a client being served) still holds, and once
 * the body is collected the next read fetches the chunks again.
 */
import { LRUCache } from 'lru-cache'
import type { CacheRecord, StoredEntry } from '../core/entry.js'
import { decodeRecord, withBody } from './codec.js'
import type { ChunkHead } from './chunk-codec.js'
import { decodeChunkedMeta } from './chunk-meta.js'

interface Remembered {
  readonly version: string
  readonly meta: Omit<StoredEntry, 'body'>
  readonly body: WeakRef<Buffer>
}

/** Heads remembered: metadata only (bodies are weak), so a few thousand cost little. */
const MAX_ENTRIES = 4096

export class ChunkedMemo {
  readonly #entries = new LRUCache<string, Remembered>({ max: MAX_ENTRIES })

  /** The entry read before under this item key at this head version, if its body is still alive. */
  get (itemKey: string, version: string): StoredEntry | undefined {
    const known = this.#entries.get(itemKey)
    if (known === undefined || known.version !== version) return undefined
    const body = known.body.deref()
    if (body === undefined) {
      this.#entries.delete(itemKey)
      return undefined
    }
    return withBody(known.meta, body)
  }

  set (itemKey: string, version: string, entry: StoredEntry): void {
    const { body, ...meta } = entry
    this.#entries.set(itemKey, { version, meta, body: new WeakRef(body) })
  }
}

/**
 * The entry with a body that owns its memory: a body decoded from the joined chunks is a view into a buffer that also
 * holds the record's header and metadata, which L1 would copy anyway (tiered.ts withOwnBody). Copied once here, L1
 * and the memo share the one buffer.
 */
export function withOwnedBody (entry: StoredEntry): StoredEntry {
  const body = entry.body
  if (body.byteOffset === 0 && body.length === body.buffer.byteLength) return entry
  const copy = Buffer.allocUnsafeSlow(body.length)
  body.copy(copy)
  return withBody(entry, copy)
}

/**
 * The record the chunks' bytes make (a whole read, chunks.ts): a format-1 head's chunks hold the whole record (the body
 * then copied once to own its memory: chunked-memo.ts withOwnedBody); a committed head's hold the body alone, which
 * becomes the entry's body as it is, the metadata coming from the head. Undefined: damaged, or for another key.
 */
export function entryOfChunks (head: ChunkHead, bytes: Buffer, key: string): CacheRecord | undefined {
  const committed = head.committed
  if (committed === null) {
    const record = decodeRecord(bytes, key)
    return record?.kind === 'entry' ? withOwnedBody(record) : record
  }
  const known = decodeChunkedMeta(committed.prefix, committed.prefix.length + bytes.length, key)
  return known === undefined || known === 'whole' ? undefined : withBody(known.meta, bytes)
}
