/**
 * store/chunk-stream: a fresh full GET of an entry in memcached chunks, and not in L1, answered as its chunks arrive
 * instead of after the last one: the first byte goes out once the head, the metadata and the first MiB are in.
 * [in-process: reads the feed the memcached store's whole read fills]
 *
 * - The bytes come from the one whole read of the head version in this process (chunks.ts `whole`, its ChunkFeed),
 *   which `get` starts or joins as well, and which ends in L1 and the chunked memo as before: a burst of clients
 *   shares one read and one buffer (memory the object's size, whatever the number of clients), read ahead of them
 *   by the whole read's window (a few MB of gets in flight), never once per client.
 * - The answer starts once the first FIRST_BYTES are in (a chunk missing there is still a miss and one refetch). A
 *   client can not be told "miss" once its 200 is under way: a chunk missing or short, or a CRC that differs, ends
 *   its answer before its declared length (deliver-part.ts destroys the connection: never a body that looks whole);
 *   the last byte is held back until the whole read has checked the CRC. The torn read is counted (a chunk miss) and
 *   drops the head (chunks.ts), so the next request is a miss and refetches once.
 * - The part (entry-part.ts) answers this one request and never enters L1 or a memo; anything but a fresh full GET
 *   (a conditional, a Range, a stale entry) reads whole as before (steps/range-read.ts picks).
 */
import type { StoredEntry } from '../core/entry.js'
import type { ChunkHead } from './chunk-codec.js'
import type { ChunkFeed } from './chunk-feed.js'
import type { ChunkRead, WholeRead } from './chunks.js'
import { decodeChunkedMeta } from './chunk-meta.js'
import type { PickBytes } from './ranged-tier.js'
import { noteChunkedRead } from './chunked-reads.js'
import { withBody } from './codec.js'
import { markPart, type PartRest } from './entry-part.js'

/**
 * Body bytes in place before the answer starts: one memcached item's worth (a stored chunk's size before fills
 * committed their 64 KiB ones), a few ms from memcached on loopback. A chunk missing in them is still a clean miss and
 * one refetch; one missing past them cuts the answer off.
 */
const FIRST_BYTES = 1024 * 1024
/** The most one write to the client takes from the feed: a socket buffer's worth, so backpressure acts often. */
const PIECE_BYTES = 256 * 1024

/**
 * A part streaming the whole body of the chunked value `head` names (for cache key `key`) from the whole read `whole`
 * (started or joined: chunks.ts), once its first FIRST_BYTES are in and `pick` says `stream` (a fresh entry); null
 * otherwise, or when the read tore or failed before that (a miss, or an unreachable node, as a whole read is).
 */
export async function streamPart (key: string, head: ChunkHead, whole: WholeRead, pick: PickBytes): Promise<StoredEntry | null> {
  const { feed, read } = whole
  const committed = head.committed
  // A committed head holds the metadata; a format-1 head's first chunk does, read by the whole read (not twice).
  if (committed === null) await feed.whenReady(Math.min(feed.buffer.length, FIRST_BYTES))
  const known = committed === null
    ? decodeChunkedMeta(feed.buffer.subarray(0, feed.ready), head.totalBytes, key)
    : decodeChunkedMeta(committed.prefix, committed.prefix.length + head.totalBytes, key)
  if (known === undefined || known === 'whole') return null
  const { meta, bodyOffset, bodyBytes } = known
  if (pick(meta, bodyBytes).kind !== 'stream') return null
  // A format-1 head's chunks hold the record (the body after its metadata), a committed head's the body alone.
  const from = committed === null ? bodyOffset : 0
  await feed.whenReady(Math.min(feed.buffer.length, from + FIRST_BYTES))
  if (feed.state === 'torn' || feed.state === 'failed') return null
  feed.streamed = true
  const entry = markPart(withBody(meta, EMPTY), { start: 0, bytes: EMPTY, totalBytes: bodyBytes, rest: new FeedRest(feed, from, read), whole: true })
  noteChunkedRead(entry)
  return entry
}

/** The body's bytes from the feed as they are in place, the last one only once the whole read is known good. */
class FeedRest implements PartRest {
  readonly #feed: ChunkFeed
  readonly #read: Promise<ChunkRead>
  readonly #end: number
  #at: number
  #closed = false

  constructor (feed: ChunkFeed, from: number, read: Promise<ChunkRead>) {
    this.#feed = feed
    this.#at = from
    this.#end = feed.buffer.length
    this.#read = read
  }

  async next (): Promise<Buffer | 'torn' | 'failed' | undefined> {
    if (this.#closed || this.#at >= this.#end) return undefined
    const feed = this.#feed
    const last = this.#end - 1
    if (this.#at < last) {
      await feed.whenReady(this.#at + 1)
      if (feed.state === 'torn' || feed.state === 'failed') return feed.state
      const upTo = Math.min(feed.ready, last, this.#at + PIECE_BYTES)
      const bytes = feed.buffer.subarray(this.#at, upTo)
      this.#at = upTo
      return bytes
    }
    // The last byte: a client that has every byte of its Content-Length takes the body as whole, so it waits for the
    // CRC over them all (chunks.ts).
    const result = await this.#read
    if (result.kind !== 'value') return result.kind
    this.#at = this.#end
    return feed.buffer.subarray(last, this.#end)
  }

  close (): void {
    this.#closed = true
  }
}

const EMPTY = Buffer.alloc(0)
