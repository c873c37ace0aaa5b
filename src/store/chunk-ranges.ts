/**
 * store/chunk-ranges: part of a chunked value (chunks.ts), for one Range request: the head, the metadata (in the first
 * chunk, read once per head version and remembered), then only the chunks that cover the bytes wanted, pipelined on
 * the connection of the node that owns the key (ItemIO picks it), at most four in flight (chunks.ts inWindow).
 * [I/O through ItemIO]
 *
 * Integrity: each chunk's key carries the head's random version, so a chunk from another write is never read; each
 * chunk's length is checked against the head; a chunk missing or short is a miss of the whole value (one refetch),
 * never a short answer. The head's CRC covers the whole value and cannot be checked on a part: a range that needs
 * every chunk is read whole instead (the CRC is checked then, and the body kept, as any whole read keeps it).
 */
import { LRUCache } from 'lru-cache'
import type { StoredEntry } from '../core/entry.js'
import { chunkItemKey, type ChunkHead } from './chunk-codec.js'
import { decodeChunkedMeta, type ChunkedMeta } from './chunk-meta.js'
import { inWindow, type ChunkEvent, type ItemIO } from './chunks.js'
import { withBody } from './codec.js'
import { markPart } from './entry-part.js'
import type { PickBytes } from './ranged-tier.js'

export type RangedRead =
  /** An entry marked as a part (entry-part.ts): metadata, and the bytes wanted beside it. */
  | { readonly kind: 'part', readonly entry: StoredEntry }
  /** Read the value whole (chunks.ts): pick wants it whole, every chunk is needed, or the record is coded. */
  | { readonly kind: 'whole' }
  /** A chunk missing or wrong, or a first chunk that is no record for this key: a miss. */
  | { readonly kind: 'torn' }
  /** The node did not answer. */
  | { readonly kind: 'failed' }

/** Metadata only (headers and numbers, a few hundred bytes each): thousands of clips cost little. */
const MAX_METAS = 4096

interface KnownMeta extends ChunkedMeta {
  readonly version: string
  readonly key: string
}

export class ChunkRanges {
  readonly #io: ItemIO
  readonly #onEvent: (event: ChunkEvent, bytes: number) => void
  readonly #metas = new LRUCache<string, KnownMeta>({ max: MAX_METAS })
  /** Gets of one chunk share the one in flight: a burst of seeks to one spot costs one get per chunk. */
  readonly #reading = new Map<string, Promise<Buffer | null | undefined>>()

  constructor (io: ItemIO, onEvent: (event: ChunkEvent, bytes: number) => void = () => {}) {
    this.#io = io
    this.#onEvent = onEvent
  }

  /** The part of the value under `itemKey` (for cache key `key`) that `pick` wants, as the head `head` names it. */
  async read (itemKey: string, key: string, head: ChunkHead, pick: PickBytes): Promise<RangedRead> {
    let first: Buffer | undefined
    let known = this.#metas.get(itemKey)
    if (known === undefined || known.version !== head.version || known.key !== key) {
      const chunk = await this.#chunk(itemKey, head, 0)
      if (chunk === undefined) return FAILED
      if (chunk === null || chunk.length !== chunkLength(head, 0)) return this.#torn()
      const decoded = decodeChunkedMeta(chunk, head.totalBytes, key)
      if (decoded === undefined) return this.#torn()
      if (decoded === 'whole') return WHOLE
      known = { ...decoded, version: head.version, key }
      this.#metas.set(itemKey, known)
      first = chunk
    }
    const { meta, bodyOffset, bodyBytes } = known
    const wanted = pick(meta, bodyBytes)
    if (wanted.kind === 'whole') return WHOLE
    if (wanted.kind === 'none') {
      this.#onEvent('range', first?.length ?? 0)
      return { kind: 'part', entry: markPart(withBody(meta, EMPTY), { start: 0, bytes: EMPTY, totalBytes: bodyBytes }) }
    }
    const from = bodyOffset + wanted.start
    const to = bodyOffset + wanted.end
    const firstIndex = Math.floor(from / head.chunkBytes)
    const lastIndex = Math.floor(to / head.chunkBytes)
    if (firstIndex === 0 && lastIndex === head.chunkCount - 1) return WHOLE
    let failed = false
    const chunks = await inWindow(lastIndex - firstIndex + 1, async (i) => {
      const index = firstIndex + i
      const chunk = index === 0 && first !== undefined ? first : await this.#chunk(itemKey, head, index)
      if (chunk === undefined) failed = true
      return chunk === null || chunk === undefined || chunk.length !== chunkLength(head, index) ? undefined : chunk
    })
    if (failed) return FAILED
    if (chunks === undefined) return this.#torn()
    let read = first !== undefined && firstIndex !== 0 ? first.length : 0
    for (const chunk of chunks) read += chunk.length
    this.#onEvent('range', read)
    const at = from - firstIndex * head.chunkBytes
    const bytes = chunks.length === 1
      ? (chunks[0] as Buffer).subarray(at, at + wanted.end - wanted.start + 1)
      : Buffer.concat(chunks).subarray(at, at + wanted.end - wanted.start + 1)
    return { kind: 'part', entry: markPart(withBody(meta, EMPTY), { start: wanted.start, bytes, totalBytes: bodyBytes }) }
  }

  /** Chunk `index`: its bytes, null when memcached has none, undefined when the node did not answer. */
  #chunk (itemKey: string, head: ChunkHead, index: number): Promise<Buffer | null | undefined> {
    const chunkKey = chunkItemKey(itemKey, head.version, index)
    let reading = this.#reading.get(chunkKey)
    if (reading === undefined) {
      reading = this.#io.get(itemKey, chunkKey).finally(() => this.#reading.delete(chunkKey))
      this.#reading.set(chunkKey, reading)
    }
    return reading
  }

  #torn (): RangedRead {
    this.#onEvent('torn', 0)
    return TORN
  }
}

/** What chunk `index` must hold: every chunk but the last is full (chunk-codec.ts splitValue). */
function chunkLength (head: ChunkHead, index: number): number {
  return index < head.chunkCount - 1 ? head.chunkBytes : head.totalBytes - head.chunkBytes * (head.chunkCount - 1)
}

const EMPTY = Buffer.alloc(0)
const WHOLE: RangedRead = { kind: 'whole' }
const TORN: RangedRead = { kind: 'torn' }
const FAILED: RangedRead = { kind: 'failed' }
