/**
 * store/chunks: writes and reads a value too large for one memcached item as a head plus chunks (chunk-codec.ts says
 * the layout and why). [I/O through ItemIO, which the memcached store provides: this file knows no socket.]
 *
 * - Chunks go to the node that owns the head's key (ItemIO takes the owner's key for every operation), so one node
 *   answers for the whole value: a lookup asks one node, and losing a node loses whole values, never half of one.
 * - Writes: every chunk, then the head (the commit point). A failed chunk leaves no head, so no reader ever finds a
 *   value whose chunks were not all stored; the previous head, if any, still names its own chunks, untouched.
 * - Chunks live CHUNK_MARGIN_SECONDS longer than the head, so a head never outlives its chunks by expiry (eviction under
 *   memory pressure still can: that is a torn read, a miss).
 * - Reads: at most WINDOW chunk gets in flight on the node's one connection (memjs pipelines them, no round trip each),
 *   more for small chunks (windowFor), and one read per head version in this process, however many requests ask at once.
 * - Commits: a body a streaming fill already wrote as chunks while it arrived (coalesce/fleet-publish.ts) is not
 *   written again: each chunk's life is stretched to the head's (touch, a few bytes each), then a committed head
 *   (chunk-codec.ts format 2) is written, the commit point as ever. A chunk gone by then fails the commit, and the
 *   value is written whole as before.
 */
import { crc32 } from 'node:zlib'
import { chunkBytesAt, chunkItemKey, chunkKeyOf, chunkOwnerOf, decodeHead, encodeCommittedHead, splitValue, type ChunkHead } from './chunk-codec.js'
import { ChunkFeed } from './chunk-feed.js'
import { expirySeconds } from './expiry.js'
import type { PublishedBody } from '../core/published-body.js'

/** What the memcached store does for this file. Neither method rejects. */
export interface ItemIO {
  /** Store `value` under `itemKey` on the node that owns `ownerItemKey`; true when memcached said stored. */
  set (ownerItemKey: string, itemKey: string, value: Buffer, expirySeconds: number): Promise<boolean>
  /** The item (null: none) from the node that owns `ownerItemKey`; undefined when the node could not be asked. */
  get (ownerItemKey: string, itemKey: string): Promise<Buffer | null | undefined>
  /** A new expiry for an item on the node that owns `ownerItemKey`; true when memcached had the item. */
  touch (ownerItemKey: string, itemKey: string, expirySeconds: number): Promise<boolean>
  /** Deletes an item on the node that owns `ownerItemKey` (a head whose chunks are torn). */
  drop (ownerItemKey: string, itemKey: string): Promise<void>
}

/**
 * For /metrics: a chunked value stored, read whole, found torn (a chunk missing, short or from another write), or not
 * stored because a chunk or head write failed (the failed operation is also counted as a memcached error), stored by
 * committing chunks a streaming fill wrote (`committed`: the bytes are the head's, the only ones written), or read in
 * part for a Range (chunk-ranges.ts; the bytes are the chunks read before the answer, then `range-more` for each chunk
 * of a long range read while it is sent).
 */
export type ChunkEvent = 'stored' | 'committed' | 'read' | 'torn' | 'write-failed' | 'range' | 'range-more'

export type ChunkRead =
  | { readonly kind: 'value', readonly value: Buffer }
  /** A chunk was missing or wrong: the value is a miss (one refetch), never served in part. */
  | { readonly kind: 'torn' }
  /** The node did not answer: the caller reports it as it reports any failed read. */
  | { readonly kind: 'failed' }

/**
 * Chunk gets (and sets) in flight at once. Measured on loopback, a 1 MiB get takes 1-2 ms; four in flight keep the
 * connection busy while a single one queued behind them still answers within a few ms, far inside any deadline.
 */
const WINDOW = 4
/** Bytes of chunk gets in flight at once for small chunks (a streaming fill's are 64 KiB): one 1 MiB window's worth each. */
const WINDOW_BYTES = 4 * 1024 * 1024
/** Touches carry no value: many in flight cost the node nothing. */
const TOUCH_WINDOW = 32
/** Seconds a chunk outlives its head: longer than any write of all the chunks, which is refused past it. */
const CHUNK_MARGIN_SECONDS = 60
const MAX_MEMCACHED_KEY_BYTES = 250

export class ChunkedItems {
  readonly #io: ItemIO
  readonly #chunkBytes: number
  readonly #onEvent: (event: ChunkEvent, bytes: number) => void
  /** The whole read of each head version in flight in this process, and the feed it fills (chunk-feed.ts). */
  readonly #reading = new Map<string, WholeRead>()

  /** `chunkBytes`: the most one chunk item holds (memcached's item size less the key and item overhead). */
  /** The item reads and writes, for other values kept beside an entry on its node (store/filling-record.ts). */
  get io (): ItemIO {
    return this.#io
  }

  constructor (io: ItemIO, chunkBytes: number, onEvent: (event: ChunkEvent, bytes: number) => void = () => {}) {
    this.#io = io
    this.#chunkBytes = chunkBytes
    this.#onEvent = onEvent
  }

  /**
   * Chunks, then the head. 'failed' when any write failed or took too long, 'too-large' when the chunk keys would pass
   * memcached's key limit (a prefix near its own limit): nothing new is visible then.
   */
  async write (itemKey: string, value: Buffer, ttlMs: number): Promise<'stored' | 'failed' | 'too-large'> {
    const { head, headBytes, chunks } = splitValue(value, this.#chunkBytes)
    if (Buffer.byteLength(chunkItemKey(itemKey, head.version, chunks.length)) > MAX_MEMCACHED_KEY_BYTES) return 'too-large'
    const headExpiry = expirySeconds(ttlMs)
    const started = Date.now()
    const stored = await inWindow(chunks.length, async (i) => {
      const ok = await this.#io.set(itemKey, chunkItemKey(itemKey, head.version, i), chunks[i] as Buffer, headExpiry + CHUNK_MARGIN_SECONDS)
      return ok ? true : undefined
    })
    if (stored === undefined) return 'failed'
    // Past the margin the first chunks may die before the head would: better no value than one that tears early.
    if (Date.now() - started >= CHUNK_MARGIN_SECONDS * 1000) return 'failed'
    if (!await this.#io.set(itemKey, itemKey, headBytes, headExpiry)) return 'failed'
    this.#onEvent('stored', value.length)
    return 'stored'
  }

  /**
   * The head for a body already written as chunks beside `chunksBeside` (an item key) as `written` says, preceded by
   * `prefix` (the record's header and metadata): the chunks live as long as the head from now on, then the head is
   * written. 'failed': a chunk is gone or a write failed, and nothing new is visible (the caller writes the value whole).
   */
  async commit (itemKey: string, chunksBeside: string, prefix: Buffer, written: PublishedBody, ttlMs: number): Promise<'stored' | 'failed'> {
    const { head, headBytes } = encodeCommittedHead(written, chunksBeside, prefix)
    const headExpiry = expirySeconds(ttlMs)
    const started = Date.now()
    const owner = chunkOwnerOf(itemKey, head)
    const touched = await inWindow(head.chunkCount, async (i) => {
      return await this.#io.touch(owner, chunkKeyOf(itemKey, head, i), headExpiry + CHUNK_MARGIN_SECONDS) ? true : undefined
    }, TOUCH_WINDOW)
    if (touched === undefined || Date.now() - started >= CHUNK_MARGIN_SECONDS * 1000) return 'failed'
    if (!await this.#io.set(itemKey, itemKey, headBytes, headExpiry)) return 'failed'
    this.#onEvent('committed', headBytes.length)
    return 'stored'
  }

  /**
   * The chunks' bytes a head item names (the whole record, or a committed head's body: chunk-meta.ts entryOfChunks);
   * one read per head version at a time in this process.
   */
  async read (itemKey: string, headItem: Buffer): Promise<ChunkRead> {
    const head = decodeHead(headItem)
    if (head === undefined) return TORN
    return await this.whole(itemKey, head).read
  }

  /** The whole read of the value `head` names, started or joined: its feed fills as chunks arrive (chunk-stream.ts). */
  whole (itemKey: string, head: ChunkHead): WholeRead {
    const flight = `${itemKey}~${head.version}`
    let reading = this.#reading.get(flight)
    if (reading === undefined) {
      const feed = new ChunkFeed(head.totalBytes, head.chunkCount, head.chunkBytes)
      reading = { feed, read: this.#read(itemKey, head, feed).finally(() => this.#reading.delete(flight)) }
      this.#reading.set(flight, reading)
    }
    return reading
  }

  async #read (itemKey: string, head: ChunkHead, feed: ChunkFeed): Promise<ChunkRead> {
    let failed = false
    const owner = chunkOwnerOf(itemKey, head)
    const got = await inWindow(head.chunkCount, async (i) => {
      const chunk = await this.#io.get(owner, chunkKeyOf(itemKey, head, i))
      if (chunk === undefined) failed = true
      if (chunk === null || chunk === undefined || chunk.length !== chunkBytesAt(head, i)) {
        // Clients streaming it stop at once (chunk-stream.ts), not once the gets in flight are answered.
        if (feed.state === 'open') feed.settle(chunk === undefined ? 'failed' : 'torn')
        return undefined
      }
      feed.put(i, chunk)
      return true
    }, windowFor(head.chunkBytes))
    if (failed) {
      feed.settle('failed')
      return FAILED_READ
    }
    // A chunk missing or short, or a CRC that differs (a chunk of another write): a miss of the whole value.
    if (got === undefined || crc32(feed.buffer) !== head.crc) {
      feed.settle('torn')
      this.#onEvent('torn', 0)
      // A client streaming it got its headers already, so its answer could not become a miss (it is cut off): the
      // head goes, so that the next request is one and refetches, rather than streaming the same hole again.
      if (feed.streamed) this.#io.drop(itemKey, itemKey).catch(noop)
      return TORN
    }
    feed.settle('whole')
    this.#onEvent('read', feed.buffer.length)
    return { kind: 'value', value: feed.buffer }
  }
}

/** A whole read in flight: the feed its chunks fill, and what it comes to. */
export interface WholeRead {
  readonly feed: ChunkFeed
  readonly read: Promise<ChunkRead>
}

function noop (): void {}

const TORN: ChunkRead = { kind: 'torn' }
const FAILED_READ: ChunkRead = { kind: 'failed' }

/**
 * Runs op(0..count-1) with at most `width` in flight; the results in order, or undefined as soon as one op answers
 * undefined (the ops not yet started are not started).
 */
export async function inWindow<T> (count: number, op: (index: number) => Promise<T | undefined>, width = WINDOW): Promise<T[] | undefined> {
  const results: T[] = new Array<T>(count)
  let next = 0
  let stop = false
  const lane = async (): Promise<void> => {
    while (!stop && next < count) {
      const index = next++
      const result = await op(index)
      if (result === undefined) stop = true
      else results[index] = result
    }
  }
  const lanes: Array<Promise<void>> = []
  for (let i = 0; i < Math.min(width, count); i++) lanes.push(lane())
  await Promise.all(lanes)
  return stop ? undefined : results
}

/** Chunk gets in flight for chunks of `chunkBytes`: WINDOW of memcached-sized ones, more of a streaming fill's small ones. */
export function windowFor (chunkBytes: number): number {
  return Math.max(WINDOW, Math.min(32, Math.floor(WINDOW_BYTES / chunkBytes)))
}
