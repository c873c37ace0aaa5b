/**
 * store/chunk-meta: an entry's metadata from the first bytes of a chunked record (codec.ts lays a record out as a
 * 16-byte header, the metadata JSON, then the body), so a Range can be answered without the whole body. The same
 * checks as a whole decode (codec.ts readEntry), with the body's length taken from the header instead of counted.
 * Pure.
 */
import type { StoredEntry } from '../core/entry.js'
import {
  CODEC_HEADER_BYTES, encodeRecord, isFiniteNumber, isOptionalString, isStatus, isStringArray, isWritableHead, withBody
} from './codec.js'

const MAGIC = 0xC7
const VERSION = 2

export interface ChunkedMeta {
  /** The entry with an empty body: its headers, status, deadlines and validators. */
  readonly meta: StoredEntry
  /** Where the body starts in the whole record. */
  readonly bodyOffset: number
  readonly bodyBytes: number
}

/**
 * - a ChunkedMeta;
 * - 'whole': readable only whole (its metadata runs past `prefix`, or it has coded bodies, whose identity bytes are
 *   decoded from one of them: coded-bodies.ts);
 * - undefined: damaged, foreign, or stored for another key (a miss, as codec.ts answers).
 */
export function decodeChunkedMeta (prefix: Buffer, totalBytes: number, expectedKey: string): ChunkedMeta | 'whole' | undefined {
  if (prefix.length < CODEC_HEADER_BYTES || prefix[0] !== MAGIC || prefix[1] !== VERSION) return undefined
  const metaBytes = prefix.readUInt32BE(2)
  const bodyBytes = prefix.readUInt32BE(6)
  if (CODEC_HEADER_BYTES + metaBytes + bodyBytes !== totalBytes) return undefined
  if (CODEC_HEADER_BYTES + metaBytes > prefix.length) return 'whole'
  let m: unknown
  try {
    m = JSON.parse(prefix.toString('utf8', CODEC_HEADER_BYTES, CODEC_HEADER_BYTES + metaBytes))
  } catch {
    return undefined
  }
  if (typeof m !== 'object' || m === null) return undefined
  const r = m as Record<string, unknown>
  if (r['key'] !== expectedKey || r['kind'] !== 'entry') return undefined
  if (r['layout'] !== undefined) return 'whole'
  if (
    !isStatus(r['status']) || !isStringArray(r['headers']) || !isFiniteNumber(r['storedAt']) ||
    !isFiniteNumber(r['initialAgeSeconds']) || !isFiniteNumber(r['freshUntil']) ||
    !isFiniteNumber(r['staleWhileRevalidateUntil']) || !isFiniteNumber(r['staleIfErrorUntil']) ||
    typeof r['mustRevalidate'] !== 'boolean' || !isOptionalString(r['etag']) || !isOptionalString(r['lastModified']) ||
    !isWritableHead(r['headers'], bodyBytes) ||
    !(r['requestedAt'] === undefined || isFiniteNumber(r['requestedAt'])) || !(r['tags'] === undefined || isStringArray(r['tags'])) ||
    !(r['graceWindow'] === undefined || r['graceWindow'] === true)
  ) return undefined
  // withBody lists every field, so the absent optional ones are present as undefined, as a whole decode leaves them.
  return { meta: withBody(r as unknown as StoredEntry, EMPTY), bodyOffset: CODEC_HEADER_BYTES + metaBytes, bodyBytes }
}

const EMPTY = Buffer.alloc(0)

/**
 * The first bytes of the record `entry` encodes to (codec.ts: its header and metadata), without the body: what a
 * committed chunk head holds (chunk-codec.ts), its body being in the chunks. The header names the body's length, so
 * the prefix and the body make the record encodeRecord would make. Undefined for an entry with coded bodies (its
 * stored body is not `body`: it is written whole).
 */
export function encodeRecordPrefix (entry: StoredEntry): Buffer | undefined {
  if (entry.encoded !== undefined) return undefined
  const prefix = encodeRecord(withBody(entry, EMPTY))
  prefix.writeUInt32BE(entry.body.length, 6)
  return prefix
}
