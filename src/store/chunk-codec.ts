/**
 * store/chunk-codec: one memcached value too large for an item, as a head plus chunks. Pure (no I/O); the store
 * (chunks.ts) does the reads and writes. Generic over bytes: it splits whatever the record codec produced (codec.ts),
 * so any representation of an entry (a compressed one too) is chunked the same way, and the record codec's own checks
 * (full key, lengths, writable headers) still run on the reassembled value.
 *
 * Learnt from mcrouter's BigValueRoute (mcrouter/routes/BigValueRoute-inl.h): the head names a random version, and
 * every chunk key carries it, so a rewrite writes new chunks beside the old ones and never changes a chunk that a live
 * head points to; chunks are written first and the head last (the head is the commit point); a missing chunk is a
 * miss of the whole value. Unlike mcrouter the head also carries the total length and a CRC-32 of the whole value, so
 * a chunk that is short, long, or from another write (an item overwritten under a reused key) is caught, never served.
 *
 * Head layout (big-endian, 30 bytes):
 *   0   u8   magic 0xCB (the record codec's is 0xC7: a head is never mistaken for a record, nor the reverse)
 *   1   u8   format version (1)
 *   2   u32  total length of the value, bytes
 *   6   u32  chunk count
 *   10  u32  chunk size, bytes (every chunk but the last holds exactly this many)
 *   14  u32  CRC-32 of the whole value
 *   18  12   version: random bytes, in every chunk key
 */
import { randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'

const MAGIC = 0xCB
const VERSION = 1
export const CHUNK_HEAD_BYTES = 30

export interface ChunkHead {
  readonly totalBytes: number
  readonly chunkCount: number
  readonly chunkBytes: number
  readonly crc: number
  /** base64url of the 12 version bytes: 16 characters in every chunk key. */
  readonly version: string
}

/** A value in the chunked layout: the head (the item under the entry's own key) and the chunks, in order. */
export interface ChunkedValue {
  readonly head: ChunkHead
  readonly headBytes: Buffer
  readonly chunks: readonly Buffer[]
}

/** Split `value` into chunks of at most `chunkBytes` (views into `value`, no copy) under a fresh random version. */
export function splitValue (value: Buffer, chunkBytes: number): ChunkedValue {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}`)
  const chunks: Buffer[] = []
  for (let at = 0; at < value.length; at += chunkBytes) chunks.push(value.subarray(at, Math.min(at + chunkBytes, value.length)))
  const versionBytes = randomBytes(12)
  const head: ChunkHead = { totalBytes: value.length, chunkCount: chunks.length, chunkBytes, crc: crc32(value), version: versionBytes.toString('base64url') }
  const headBytes = Buffer.allocUnsafe(CHUNK_HEAD_BYTES)
  headBytes[0] = MAGIC
  headBytes[1] = VERSION
  headBytes.writeUInt32BE(head.totalBytes, 2)
  headBytes.writeUInt32BE(head.chunkCount, 6)
  headBytes.writeUInt32BE(head.chunkBytes, 10)
  headBytes.writeUInt32BE(head.crc, 14)
  versionBytes.copy(headBytes, 18)
  return { head, headBytes, chunks }
}

/** One byte compare: the memcached read path asks this of every item before decoding it as a record. */
export function isChunkHead (item: Buffer): boolean {
  return item.length === CHUNK_HEAD_BYTES && item[0] === MAGIC
}

/** The head, or undefined for a damaged or foreign item (a miss, as the record codec answers). */
export function decodeHead (item: Buffer): ChunkHead | undefined {
  if (!isChunkHead(item) || item[1] !== VERSION) return undefined
  const totalBytes = item.readUInt32BE(2)
  const chunkCount = item.readUInt32BE(6)
  const chunkBytes = item.readUInt32BE(10)
  // A head whose numbers do not add up names chunks that cannot be assembled: refuse it before asking memcached.
  if (chunkBytes === 0 || chunkCount !== Math.ceil(totalBytes / chunkBytes) || chunkCount === 0) return undefined
  return { totalBytes, chunkCount, chunkBytes, crc: item.readUInt32BE(14), version: item.toString('base64url', 18, 30) }
}

/** The memcached key of chunk `index` of the value under `itemKey` at `version`: itemKey plus at most 28 bytes. */
export function chunkItemKey (itemKey: string, version: string, index: number): string {
  return `${itemKey}~${version}~${index}`
}

/**
 * The value the chunks make, or a reason it cannot be trusted: a chunk missing (evicted, memcached restarted), one
 * whose length is not what the head says, or a whole whose CRC differs (a chunk from another write). Any of these is a
 * miss of the whole value, never a short or mixed body.
 */
export function joinChunks (head: ChunkHead, chunks: ReadonlyArray<Buffer | null>): { kind: 'value', value: Buffer } | { kind: 'torn', reason: 'missing' | 'length' | 'checksum' } {
  if (chunks.length !== head.chunkCount) return { kind: 'torn', reason: 'missing' }
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]
    if (chunk === null || chunk === undefined) return { kind: 'torn', reason: 'missing' }
    const expected = i < chunks.length - 1 ? head.chunkBytes : head.totalBytes - head.chunkBytes * (head.chunkCount - 1)
    if (chunk.length !== expected) return { kind: 'torn', reason: 'length' }
  }
  // allocUnsafeSlow: the value is large and long-lived (L1 keeps the body); never a slice of the shared pool.
  const value = Buffer.allocUnsafeSlow(head.totalBytes)
  let at = 0
  for (const chunk of chunks as Buffer[]) at += chunk.copy(value, at)
  if (crc32(value) !== head.crc) return { kind: 'torn', reason: 'checksum' }
  return { kind: 'value', value }
}
