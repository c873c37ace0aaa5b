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
import { chunkBytesAt, chunkKeyOf, chunkOwnerOf, type ChunkHead } from './chunk-codec.js'
import { decodeChunkedMeta, type ChunkedMeta } from './chunk-meta.js'
import { inWindow, windowFor, type ChunkEvent, type ItemIO } from './chunks.js'
import { withBody } from './codec.js'
import { markPart, type PartRest } from './entry-part.js'
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
/**
 * A range over at most this many chunks is read whole before it is answered (a chunk missing is then a miss and one
 * refetch). A longer one (a browser's seek asks `bytes=N-`: the rest of the clip) is answered once its first chunk is
 * read, and the rest is read REST_AHEAD chunks ahead of the client as it takes them: a seek holds a few chunks in
 * memory, and a client that drops the answer after a few hundred kB (as a browser does) stops the reads. Measured, a
 * 30 MB clip in 1 MiB items, the headers of a seek came after 98 ms (p50, loaded 2-core machine) with four chunks
 * read first, 12 ms with one; reading the whole object for it took 300 ms.
 */
const FIRST_CHUNKS = 4
const REST_AHEAD = 2

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
    const found = await this.meta(itemKey, key, head)
    if (!('known' in found)) return found
    const { known, first } = found
    const { meta, bodyOffset, bodyBytes } = known
    const wanted = pick(meta, bodyBytes)
    if (wanted.kind === 'whole' || wanted.kind === 'stream') return WHOLE
    if (wanted.kind === 'none') {
      this.#onEvent('range', first?.length ?? 0)
      return { kind: 'part', entry: markPart(withBody(meta, EMPTY), { start: 0, bytes: EMPTY, totalBytes: bodyBytes, rest: null, whole: false }) }
    }
    // Offsets among the chunks' bytes: a committed head's chunks hold the body alone, a format-1 head's the record.
    const chunksFrom = head.committed === null ? 0 : bodyOffset
    const from = bodyOffset + wanted.start - chunksFrom
    const to = bodyOffset + wanted.end - chunksFrom
    const firstIndex = Math.floor(from / head.chunkBytes)
    const lastIndex = Math.floor(to / head.chunkBytes)
    if (firstIndex === 0 && lastIndex === head.chunkCount - 1) return WHOLE
    const firstLast = lastIndex - firstIndex < FIRST_CHUNKS ? lastIndex : firstIndex
    let failed = false
    const chunks = await inWindow(firstLast - firstIndex + 1, async (i) => {
      const index = firstIndex + i
      const chunk = index === 0 && first !== undefined ? first : await this.#chunk(itemKey, head, index)
      if (chunk === undefined) failed = true
      return chunk === null || chunk === undefined || chunk.length !== chunkBytesAt(head, index) ? undefined : chunk
    }, windowFor(head.chunkBytes))
    if (failed) return FAILED
    if (chunks === undefined) return this.#torn()
    let read = first !== undefined && firstIndex !== 0 ? first.length : 0
    for (const chunk of chunks) read += chunk.length
    this.#onEvent('range', read)
    const at = from - firstIndex * head.chunkBytes
    const upTo = Math.min(to + 1, (firstLast + 1) * head.chunkBytes) - firstIndex * head.chunkBytes
    const bytes = chunks.length === 1 ? (chunks[0] as Buffer).subarray(at, upTo) : Buffer.concat(chunks).subarray(at, upTo)
    const rest = firstLast === lastIndex ? null : new ChunkRest((index) => this.#chunk(itemKey, head, index), head, firstLast + 1, lastIndex, to, this.#onEvent)
    return { kind: 'part', entry: markPart(withBody(meta, EMPTY), { start: wanted.start, bytes, totalBytes: bodyBytes, rest, whole: false }) }
  }

  /**
   * The entry's metadata (remembered per head version), and the first chunk when it was read for it: a committed head
   * holds the metadata itself (chunk-codec.ts format 2), a format-1 head's first chunk does. Else why not: the record
   * is readable only whole, a chunk is torn, or the node did not answer.
   */
  async meta (itemKey: string, key: string, head: ChunkHead): Promise<{ known: KnownMeta, first: Buffer | undefined } | RangedRead> {
    const remembered = this.#metas.get(itemKey)
    if (remembered !== undefined && remembered.version === head.version && remembered.key === key) return { known: remembered, first: undefined }
    const committed = head.committed
    let first: Buffer | undefined
    let decoded
    if (committed !== null) {
      decoded = decodeChunkedMeta(committed.prefix, committed.prefix.length + head.totalBytes, key)
    } else {
      const chunk = await this.#chunk(itemKey, head, 0)
      if (chunk === undefined) return FAILED
      if (chunk === null || chunk.length !== chunkBytesAt(head, 0)) return this.#torn()
      decoded = decodeChunkedMeta(chunk, head.totalBytes, key)
      first = chunk
    }
    if (decoded === undefined) return this.#torn()
    if (decoded === 'whole') return WHOLE
    const known = { ...decoded, version: head.version, key }
    this.#metas.set(itemKey, known)
    return { known, first }
  }

  /** Chunk `index`: its bytes, null when memcached has none, undefined when the node did not answer. */
  #chunk (itemKey: string, head: ChunkHead, index: number): Promise<Buffer | null | undefined> {
    const chunkKey = chunkKeyOf(itemKey, head, index)
    let reading = this.#reading.get(chunkKey)
    if (reading === undefined) {
      reading = this.#io.get(chunkOwnerOf(itemKey, head), chunkKey).finally(() => this.#reading.delete(chunkKey))
      this.#reading.set(chunkKey, reading)
    }
    return reading
  }

  #torn (): RangedRead {
    this.#onEvent('torn', 0)
    return TORN
  }
}

/** Chunks `next`..`last` of a range that ends at record offset `to`, read REST_AHEAD ahead of the client. */
class ChunkRest implements PartRest {
  readonly #read: (index: number) => Promise<Buffer | null | undefined>
  readonly #head: ChunkHead
  readonly #last: number
  readonly #to: number
  readonly #onEvent: (event: ChunkEvent, bytes: number) => void
  readonly #ahead: Array<Promise<Buffer | null | undefined>> = []
  #next: number
  #closed = false

  constructor (
    read: (index: number) => Promise<Buffer | null | undefined>, head: ChunkHead, next: number, last: number, to: number,
    onEvent: (event: ChunkEvent, bytes: number) => void
  ) {
    this.#read = read
    this.#head = head
    this.#next = next
    this.#last = last
    this.#to = to
    this.#onEvent = onEvent
    this.#fill()
  }

  async next (): Promise<Buffer | 'torn' | 'failed' | undefined> {
    const reading = this.#ahead.shift()
    if (reading === undefined || this.#closed) return undefined
    const index = this.#next - this.#ahead.length - 1
    this.#fill()
    const chunk = await reading
    if (chunk === undefined) return 'failed'
    if (chunk === null || chunk.length !== chunkBytesAt(this.#head, index)) {
      this.#onEvent('torn', 0)
      return 'torn'
    }
    this.#onEvent('range-more', chunk.length)
    return index === this.#last ? chunk.subarray(0, this.#to - index * this.#head.chunkBytes + 1) : chunk
  }

  close (): void {
    this.#closed = true
    this.#ahead.length = 0
  }

  #fill (): void {
    while (!this.#closed && this.#ahead.length < REST_AHEAD && this.#next <= this.#last) {
      const reading = this.#read(this.#next++)
      // Read ahead, and maybe never awaited (the client left): a rejection must not go unhandled (#chunk never rejects).
      reading.catch(() => {})
      this.#ahead.push(reading)
    }
  }
}

const EMPTY = Buffer.alloc(0)
const WHOLE: RangedRead = { kind: 'whole' }
const TORN: RangedRead = { kind: 'torn' }
const FAILED: RangedRead = { kind: 'failed' }
