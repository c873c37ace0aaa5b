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
 *
 * A committed head (format 2) names chunks a streaming fill already wrote while its body arrived
 * (coalesce/fleet-publish.ts), so a large body is written to memcached once, not once for followers and again to
 * store it. Its chunks hold the body alone (the fill could not know the stored record's metadata when it wrote them):
 * the head carries the record's first bytes (codec.ts header and metadata JSON) and the item key the chunks were
 * written beside (their node). The first 30 bytes are as above, the length, count, size and CRC being the body's, then:
 *   30  u16  length K of the chunks' item key
 *   32  K    that item key (UTF-8): chunk i is chunkItemKey(it, version, i)
 *   32+K     the record's first bytes: its header (naming the body's length) and metadata; the body follows in the chunks
 */
import { randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'

const MAGIC = 0xCB
const VERSION = 1
const COMMITTED = 2
export const CHUNK_HEAD_BYTES = 30
/** The smallest record prefix: the record codec's 16-byte header (codec.ts CODEC_HEADER_BYTES). */
const MIN_PREFIX_BYTES = 16

export interface ChunkHead {
  readonly totalBytes: number
  readonly chunkCount: number
  readonly chunkBytes: number
  readonly crc: number
  /** base64url of the 12 version bytes: 16 characters in every chunk key. */
  readonly version: string
  /**
   * A committed head's (format 2): the item key its chunks were written beside, and the record's first bytes, which
   * come before the chunks' bytes. null for format 1: the chunks are beside the head's own key and hold the whole record.
   */
  readonly committed: { readonly chunksBeside: string, readonly prefix: Buffer } | null
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
  const head: ChunkHead = { totalBytes: value.length, chunkCount: chunks.length, chunkBytes, crc: crc32(value), version: versionBytes.toString('base64url'), committed: null }
  const headBytes = Buffer.allocUnsafe(CHUNK_HEAD_BYTES)
  writeFixed(headBytes, VERSION, head)
  versionBytes.copy(headBytes, 18)
  return { head, headBytes, chunks }
}

/** What a streaming fill wrote: its body as chunks of `chunkBytes` under `version`, with the CRC-32 of the body. */
export interface WrittenBody {
  readonly bodyBytes: number
  readonly chunkBytes: number
  readonly crc: number
  readonly version: string
}

/**
 * A committed head (format 2) for chunks already written beside `chunksBeside` (an item key), preceded in the value by
 * `prefix` (the record's header and metadata).
 */
export function encodeCommittedHead (written: WrittenBody, chunksBeside: string, prefix: Buffer): { head: ChunkHead, headBytes: Buffer } {
  const { bodyBytes, chunkBytes, crc, version } = written
  const head: ChunkHead = { totalBytes: bodyBytes, chunkCount: Math.ceil(bodyBytes / chunkBytes), chunkBytes, crc, version, committed: { chunksBeside, prefix } }
  const keyBytes = Buffer.byteLength(chunksBeside)
  const headBytes = Buffer.allocUnsafe(CHUNK_HEAD_BYTES + 2 + keyBytes + prefix.length)
  writeFixed(headBytes, COMMITTED, head)
  headBytes.write(version, 18, 12, 'base64url')
  headBytes.writeUInt16BE(keyBytes, 30)
  headBytes.write(chunksBeside, 32, 'utf8')
  prefix.copy(headBytes, 32 + keyBytes)
  return { head, headBytes }
}

function writeFixed (out: Buffer, format: number, head: ChunkHead): void {
  out[0] = MAGIC
  out[1] = format
  out.writeUInt32BE(head.totalBytes, 2)
  out.writeUInt32BE(head.chunkCount, 6)
  out.writeUInt32BE(head.chunkBytes, 10)
  out.writeUInt32BE(head.crc, 14)
}

/** One byte compare: the memcached read path asks this of every item before decoding it as a record. */
export function isChunkHead (item: Buffer): boolean {
  return item[0] === MAGIC && item.length >= CHUNK_HEAD_BYTES
}

/** The head, or undefined for a damaged or foreign item (a miss, as the record codec answers). */
export function decodeHead (item: Buffer): ChunkHead | undefined {
  if (!isChunkHead(item) || (item[1] !== VERSION && item[1] !== COMMITTED)) return undefined
  const totalBytes = item.readUInt32BE(2)
  const chunkCount = item.readUInt32BE(6)
  const chunkBytes = item.readUInt32BE(10)
  // A head whose numbers do not add up names chunks that cannot be assembled: refuse it before asking memcached.
  if (chunkBytes === 0 || chunkCount !== Math.ceil(totalBytes / chunkBytes) || chunkCount === 0) return undefined
  const fixed = { totalBytes, chunkCount, chunkBytes, crc: item.readUInt32BE(14), version: item.toString('base64url', 18, 30) }
  if (item[1] === VERSION) return item.length === CHUNK_HEAD_BYTES ? { ...fixed, committed: null } : undefined
  if (item.length < CHUNK_HEAD_BYTES + 2) return undefined
  const keyEnd = CHUNK_HEAD_BYTES + 2 + item.readUInt16BE(30)
  if (item.length < keyEnd + MIN_PREFIX_BYTES) return undefined
  return { ...fixed, committed: { chunksBeside: item.toString('utf8', CHUNK_HEAD_BYTES + 2, keyEnd), prefix: item.subarray(keyEnd) } }
}

/** The item key of chunk `index` of the value whose head is under `itemKey`. */
export function chunkKeyOf (itemKey: string, head: ChunkHead, index: number): string {
  return chunkItemKey(head.committed?.chunksBeside ?? itemKey, head.version, index)
}

/** The item key whose node holds the chunks: the head's own, or for a committed head the one they were written beside. */
export function chunkOwnerOf (itemKey: string, head: ChunkHead): string {
  return head.committed?.chunksBeside ?? itemKey
}

/** The memcached key of chunk `index` of the value under `itemKey` at `version`: itemKey plus at most 28 bytes. */
export function chunkItemKey (itemKey: string, version: string, index: number): string {
  return `${itemKey}~${version}~${index}`
}

/** What chunk `index` must hold: every chunk but the last is full (splitValue). */
export function chunkBytesAt (head: ChunkHead, index: number): number {
  return index < head.chunkCount - 1 ? head.chunkBytes : head.totalBytes - head.chunkBytes * (head.chunkCount - 1)
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
    if (chunk.length !== chunkBytesAt(head, i)) return { kind: 'torn', reason: 'length' }
  }
  // allocUnsafeSlow: the value is large and long-lived (L1 keeps the body); never a slice of the shared pool.
  const prefix = head.committed?.prefix
  const from = prefix?.length ?? 0
  const value = Buffer.allocUnsafeSlow(from + head.totalBytes)
  if (prefix !== undefined) prefix.copy(value, 0)
  let at = from
  for (const chunk of chunks as Buffer[]) at += chunk.copy(value, at)
  if (crc32(from === 0 ? value : value.subarray(from)) !== head.crc) return { kind: 'torn', reason: 'checksum' }
  return { kind: 'value', value }
}
