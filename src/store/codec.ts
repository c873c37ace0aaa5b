import { randomBytes } from 'node:crypto'
import { validateHeaderName, validateHeaderValue } from 'node:http'
import type { LRUCache } from 'lru-cache'
import type { CacheRecord, StoredEntry, VaryIndex } from './types.js'
import { codedBodies, expandBodies, identityLengthOf, isLayout, layoutOf, ownCodedBodies, type Layout } from './coded-bodies.js'

/**
 * CacheRecord ⇄ Buffer for memcached. Layout (big-endian):
 *
 *   0   u8   magic 0xC7
 *   1   u8   format version (2)
 *   2   u32  metadata length M
 *   6   u32  body length B
 *   10  u48  stamp: random per encode, names this stored version
 *   16  M bytes of UTF-8 JSON: every field except `body`
 *   16+M B bytes of body, raw: the identity bytes, or for an entry with coded bodies those alone, back to back, as
 *        the metadata's `layout` lists them (store/coded-bodies.ts: identity is decoded from one of them on read)
 *
 * The body never goes through JSON (no base64 blow-up, no copy on decode: it is a view into the item). Both
 * lengths are stored so a truncated or padded item is caught instead of served. Anything unexpected decodes to
 * `undefined`, which the store reports as a miss: an old or foreign item must never become an error page.
 */

const MAGIC = 0xC7
const VERSION = 2
export const CODEC_HEADER_BYTES = 16

/**
 * Decoded metadata by full key, tagged with its stamp. Reading the stamp costs nothing, so a memcached hit on a
 * version already seen skips JSON.parse (2.6 µs of a hit, --cpu-prof); the body still comes from the item.
 */
export type MetaMemo = LRUCache<string, { readonly stamp: number, readonly meta: StoredMeta }>

/** An entry's metadata as an item holds it: the coded bodies reduced to their layout. */
type StoredMeta = Omit<StoredEntry, 'body' | 'encoded'> & { readonly layout?: Layout | undefined }

export function encodeRecord (record: CacheRecord): Buffer {
  const meta = JSON.stringify(record.kind === 'entry' ? entryMeta(record) : record)
  const metaBytes = Buffer.byteLength(meta)
  const encoded = record.kind === 'entry' ? record.encoded : undefined
  const body = record.kind !== 'entry' ? undefined : encoded === undefined ? record.body : Buffer.concat(codedBodies(encoded))
  const bodyBytes = body === undefined ? 0 : body.length
  const buf = Buffer.allocUnsafe(CODEC_HEADER_BYTES + metaBytes + bodyBytes)
  buf[0] = MAGIC
  buf[1] = VERSION
  buf.writeUInt32BE(metaBytes, 2)
  buf.writeUInt32BE(bodyBytes, 6)
  randomBytes(6).copy(buf, 10)
  buf.write(meta, CODEC_HEADER_BYTES, 'utf8')
  if (body !== undefined) body.copy(buf, CODEC_HEADER_BYTES + metaBytes)
  return buf
}

/**
 * The stamp of an item in this format whose lengths add up: the stored version it names (store/record-memo.ts), read
 * from its header alone. undefined for anything else, which decodeRecord refuses as well.
 */
export function stampOf (buf: Buffer): number | undefined {
  if (buf.length < CODEC_HEADER_BYTES || buf[0] !== MAGIC || buf[1] !== VERSION) return undefined
  if (buf.length !== CODEC_HEADER_BYTES + buf.readUInt32BE(2) + buf.readUInt32BE(6)) return undefined
  return buf.readUIntBE(10, 6)
}

/** The record, or `undefined` for an unknown format, a damaged item, or an item stored for another key. */
export function decodeRecord (buf: Buffer, expectedKey: string, memo?: MetaMemo): CacheRecord | undefined {
  if (buf.length < CODEC_HEADER_BYTES || buf[0] !== MAGIC || buf[1] !== VERSION) return undefined
  const metaBytes = buf.readUInt32BE(2)
  const bodyBytes = buf.readUInt32BE(6)
  if (buf.length !== CODEC_HEADER_BYTES + metaBytes + bodyBytes) return undefined
  const stamp = buf.readUIntBE(10, 6)
  const known = memo?.get(expectedKey)
  if (known !== undefined && known.stamp === stamp) return fromStored(known.meta, buf.subarray(CODEC_HEADER_BYTES + metaBytes))
  let meta: unknown
  try {
    meta = JSON.parse(buf.toString('utf8', CODEC_HEADER_BYTES, CODEC_HEADER_BYTES + metaBytes))
  } catch {
    return undefined
  }
  if (typeof meta !== 'object' || meta === null) return undefined
  const m = meta as Record<string, unknown>
  // Checked before the shape so a hash collision costs no further work.
  if (m['key'] !== expectedKey) return undefined
  if (m['kind'] === 'entry') {
    const entry = readEntry(m, buf.subarray(CODEC_HEADER_BYTES + metaBytes))
    if (entry !== undefined && memo !== undefined) memo.set(expectedKey, { stamp, meta: entryMeta(entry) }, { size: metaBytes * 2 + expectedKey.length * 2 })
    return entry
  }
  if (m['kind'] === 'vary' && bodyBytes === 0) return readVary(m, expectedKey)
  return undefined
}

function entryMeta (entry: StoredEntry): StoredMeta {
  // Spread rather than a field list so a field added to StoredEntry is carried without touching the codec.
  const { body: _body, encoded, ...meta } = entry
  return encoded === undefined ? meta : { ...meta, layout: layoutOf(encoded) }
}

/** An entry from metadata already checked (the stamp memo) and its item's body region. */
function fromStored (meta: StoredMeta, region: Buffer): StoredEntry | undefined {
  if (meta.layout === undefined) return withBody(meta, region)
  const bodies = expandBodies(meta.layout, region, meta.headers, meta.etag, identityLengthOf(meta.headers))
  return bodies === undefined ? undefined : withBody({ ...meta, encoded: bodies.encoded }, bodies.identity)
}

/** A field list, not a spread: one object shape for every entry keeps the hit path monomorphic. */
export function withBody (m: Omit<StoredEntry, 'body'>, body: Buffer): StoredEntry {
  return {
    kind: 'entry',
    key: m.key,
    status: m.status,
    headers: m.headers,
    body,
    storedAt: m.storedAt,
    initialAgeSeconds: m.initialAgeSeconds,
    freshUntil: m.freshUntil,
    staleWhileRevalidateUntil: m.staleWhileRevalidateUntil,
    staleIfErrorUntil: m.staleIfErrorUntil,
    mustRevalidate: m.mustRevalidate,
    graceWindow: m.graceWindow,
    etag: m.etag,
    lastModified: m.lastModified,
    requestedAt: m.requestedAt,
    tags: m.tags,
    encoded: m.encoded
  }
}

/**
 * The record with bytes of its own. A body decoded from memcached is a view into memjs's read, which can hold many
 * responses (28-64 KiB measured): kept as is (L1, store/record-memo.ts), a 1 KiB entry would pin the whole read, and
 * a cache bounded in bytes could hold ~20x its bound. allocUnsafeSlow, not Buffer.from, whose small copies come from
 * the shared pool (the same problem again). The rest of the record (the headers array entries decoded from one
 * version share, so the hit's header memo holds) is kept as is, in withBody's shape, so the hit path sees one shape.
 */
export function withOwnBytes (record: CacheRecord): CacheRecord {
  if (record.kind !== 'entry') return record
  const body = record.body
  const encoded = ownCodedBodies(record.encoded)
  if (body.length === body.buffer.byteLength && encoded === record.encoded) return record
  if (body.length === body.buffer.byteLength) return withBody({ ...record, encoded }, body)
  const copy = Buffer.allocUnsafeSlow(body.length)
  body.copy(copy)
  return withBody({ ...record, encoded }, copy)
}

function readEntry (m: Record<string, unknown>, region: Buffer): StoredEntry | undefined {
  let body = region
  let encoded
  if (m['layout'] !== undefined) {
    if (!isLayout(m['layout']) || !isStringArray(m['headers'])) return undefined
    const bodies = expandBodies(m['layout'], region, m['headers'], typeof m['etag'] === 'string' ? m['etag'] : undefined, identityLengthOf(m['headers']))
    if (bodies === undefined) return undefined
    body = bodies.identity
    encoded = bodies.encoded
  }
  if (
    !isStatus(m['status']) || !isStringArray(m['headers']) || !isFiniteNumber(m['storedAt']) ||
    !isFiniteNumber(m['initialAgeSeconds']) || !isFiniteNumber(m['freshUntil']) ||
    !isFiniteNumber(m['staleWhileRevalidateUntil']) || !isFiniteNumber(m['staleIfErrorUntil']) ||
    typeof m['mustRevalidate'] !== 'boolean' || !isOptionalString(m['etag']) || !isOptionalString(m['lastModified']) ||
    !isWritableHead(m['headers'], body.length) ||
    !(m['requestedAt'] === undefined || isFiniteNumber(m['requestedAt'])) || !(m['tags'] === undefined || isStringArray(m['tags'])) ||
    !(m['graceWindow'] === undefined || m['graceWindow'] === true)
  ) return undefined
  // JSON drops undefined members; the type wants them present.
  if (!('etag' in m)) m['etag'] = undefined
  if (!('lastModified' in m)) m['lastModified'] = undefined
  // An untagged entry stores no `tags` (JSON drops undefined): it costs no byte in memcached.
  if (!('requestedAt' in m)) m['requestedAt'] = undefined
  if (!('tags' in m)) m['tags'] = undefined
  if (!('graceWindow' in m)) m['graceWindow'] = undefined
  m['encoded'] = encoded
  m['body'] = body
  // A coded entry leaves through the field list: the parsed object still carries `layout`, a shape no hit should see.
  return encoded === undefined ? m as unknown as StoredEntry : withBody(m as unknown as StoredEntry, body)
}

function readVary (m: Record<string, unknown>, key: string): VaryIndex | undefined {
  const { varyHeaders, epoch, storedAt } = m
  if (!isStringArray(varyHeaders) || typeof epoch !== 'string' || !isFiniteNumber(storedAt)) return undefined
  return { kind: 'vary', key, varyHeaders, epoch, storedAt }
}

/** A status node:http will write (writeHead throws outside 100-999). */
export function isStatus (value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 100 && (value as number) <= 999
}

/**
 * Headers node:http will write as they are, with a Content-Length that matches the body. An item damaged in a way its
 * lengths do not show (a flipped bit in a header) would otherwise reach writeHead, which throws (a 500, then, once the
 * record sits in L1, an exception on every hit), or announce a length the body does not have (a client left waiting).
 * Checked when the metadata is parsed; the stamp memo serves metadata that passed.
 */
export function isWritableHead (headers: string[], bodyBytes: number): boolean {
  if (headers.length % 2 !== 0) return false
  try {
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string
      const value = headers[i + 1] as string
      validateHeaderName(name)
      validateHeaderValue(name, value)
      if (name === 'content-length' && value !== String(bodyBytes)) return false
    }
  } catch {
    return false
  }
  return true
}

export function isFiniteNumber (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

export function isOptionalString (value: unknown): value is string | undefined {
  return value === undefined || typeof value === 'string'
}

export function isStringArray (value: unknown): value is string[] {
  if (!Array.isArray(value)) return false
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') return false
  return true
}
