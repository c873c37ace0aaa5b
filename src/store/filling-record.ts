/**
 * store/filling-record: what a proxy filling a large entry publishes in memcached so that followers on other proxies
 * stream it while it arrives (coalesce/fleet-publish.ts writes it, coalesce/fleet-follow.ts reads it). Pure (no I/O).
 *
 * Learnt from mcrouter's BigValueRoute, as chunk-codec.ts is: the body goes out as chunks under keys that carry a random
 * version, so two fills of one key never mix, and a small record beside the key names that version. The record also
 * carries what a follower needs to start its answer before any chunk exists: the entry as it will be stored (status,
 * ready-to-write headers with the declared Content-Length, deadlines; empty body) and its Vary index. Unlike a stored
 * head, it has no checksum (the whole is not known yet) and a state: a fill that fails says so, and every follower
 * cuts its clients off rather than end a body early.
 *
 * Layout (big-endian):
 *   0   u8   magic 0xCF (a record's is 0xC7, a chunk head's 0xCB: never mistaken for either)
 *   1   u8   format version (1)
 *   2   u8   state: 0 filling, 1 failed
 *   3   u32  body length, bytes (the declared Content-Length; 0xFFFFFFFF while an unsized body is arriving, then
 *            the publisher writes the record again with its length once every chunk is written)
 *   7   u32  chunk size, bytes (every chunk but the last holds exactly this many)
 *   11  12   version: random bytes, in every chunk key
 *   23  u32  length H of the head record
 *   27  H    the head, as the record codec writes an entry (codec.ts)
 *   27+H     the Vary index, as the record codec writes it, or nothing
 */
import { randomBytes } from 'node:crypto'
import type { StoredEntry, VaryIndex } from '../core/entry.js'
import { decodeRecord, encodeRecord } from './codec.js'
import { chunkItemKey } from './chunk-codec.js'

const MAGIC = 0xCF
const FORMAT = 1
const FIXED_BYTES = 27
const UNKNOWN_LENGTH = 0xFFFFFFFF

export type FillingState = 'filling' | 'failed'

export interface FillingRecord {
  readonly state: FillingState
  /** null: no Content-Length, and not every chunk written yet. */
  readonly length: number | null
  readonly chunkBytes: number
  /** base64url of 12 random bytes. */
  readonly version: string
  readonly head: StoredEntry
  readonly vary: VaryIndex | null
}

/**
 * Raw items beside a cache key's own, on the node that owns the key (the memcached store provides them): a fill's
 * chunks must live where the entry will, so one node answers for the whole. Neither method rejects.
 */
export interface SideItems {
  /** The most one value may hold (memcached's item size less the key and item overhead). */
  readonly valueBytes: number
  /** true when memcached said stored. */
  set (key: string, suffix: string, value: Buffer, expirySeconds: number): Promise<boolean>
  /** The item (null: none); undefined when the node could not be asked. */
  get (key: string, suffix: string): Promise<Buffer | null | undefined>
}

/** The suffix of the record beside a key. */
export const FILLING_SUFFIX = '~filling'

/**
 * The suffix of chunk `index` of the fill at `version`: a stored chunk's key form (chunk-codec.ts chunkItemKey), so the
 * stored entry's head commits these very chunks (a committed head) instead of writing the body again.
 */
export function fillChunkSuffix (version: string, index: number): string {
  return chunkItemKey('', version, index)
}

export function newFillVersion (): string {
  return randomBytes(12).toString('base64url')
}

export function encodeFilling (record: FillingRecord): Buffer {
  // The record codec checks Content-Length against the body it holds, here none: the head goes as makeEntry wrote it.
  const head = encodeRecord({ ...record.head, headers: [...withoutField(record.head.headers, 'content-length'), 'content-length', '0'] })
  const vary = record.vary === null ? null : encodeRecord(record.vary)
  const out = Buffer.allocUnsafe(FIXED_BYTES + head.length + (vary?.length ?? 0))
  out[0] = MAGIC
  out[1] = FORMAT
  out[2] = record.state === 'filling' ? 0 : 1
  out.writeUInt32BE(record.length ?? UNKNOWN_LENGTH, 3)
  out.writeUInt32BE(record.chunkBytes, 7)
  out.write(record.version, 11, 12, 'base64url')
  out.writeUInt32BE(head.length, 23)
  head.copy(out, FIXED_BYTES)
  if (vary !== null) vary.copy(out, FIXED_BYTES + head.length)
  return out
}

/**
 * The record, or undefined for a damaged or foreign item, or one whose head is not the entry `keyFor` names: the
 * primary key, or the variant of it the follower asks for under the record's Vary index (a fill of another variant is not its
 * answer). The head comes back declaring the record's length.
 */
export function decodeFilling (item: Buffer, primaryKey: string, keyFor: (vary: VaryIndex | null) => string): FillingRecord | undefined {
  if (item.length < FIXED_BYTES || item[0] !== MAGIC || item[1] !== FORMAT || (item[2] !== 0 && item[2] !== 1)) return undefined
  const raw = item.readUInt32BE(3)
  const length = raw === UNKNOWN_LENGTH ? null : raw
  const chunkBytes = item.readUInt32BE(7)
  const headBytes = item.readUInt32BE(23)
  if (chunkBytes === 0 || FIXED_BYTES + headBytes > item.length) return undefined
  const varyBytes = item.subarray(FIXED_BYTES + headBytes)
  const vary = varyBytes.length === 0 ? null : decodeRecord(varyBytes, primaryKey)
  if (vary !== null && vary?.kind !== 'vary') return undefined
  const head = decodeRecord(item.subarray(FIXED_BYTES, FIXED_BYTES + headBytes), keyFor(vary))
  if (head?.kind !== 'entry' || head.body.length !== 0 || !head.headers.includes('content-length')) return undefined
  // Unsized: its clients get chunked transfer encoding until the length is known.
  const declared = { ...head, headers: length === null ? withoutField(head.headers, 'content-length') : withContentLength(head.headers, String(length)) }
  return { state: item[2] === 0 ? 'filling' : 'failed', length, chunkBytes, version: item.toString('base64url', 11, 23), head: declared, vary }
}

/** What a follower polls for: the state, version and length, read without decoding the head. */
export function peekFilling (item: Buffer): { state: FillingState, version: string, length: number | null } | undefined {
  if (item.length < FIXED_BYTES || item[0] !== MAGIC || item[1] !== FORMAT || (item[2] !== 0 && item[2] !== 1)) return undefined
  const raw = item.readUInt32BE(3)
  return { state: item[2] === 0 ? 'filling' : 'failed', version: item.toString('base64url', 11, 23), length: raw === UNKNOWN_LENGTH ? null : raw }
}

/** The entry a followed fill makes once whole: its head with the body and the body's length. */
export function withBody (head: StoredEntry, body: Buffer): StoredEntry {
  const length = String(body.length)
  const headers = head.headers.includes('content-length') ? withContentLength(head.headers, length) : [...head.headers, 'content-length', length]
  return { ...head, headers, body }
}

/** The failed form of a record: one byte differs, so the failing proxy writes it without re-encoding the head. */
export function markFailed (encoded: Buffer): Buffer {
  const out = Buffer.from(encoded)
  out[2] = 1
  return out
}

/** How many chunks a body of `length` bytes makes. */
export function chunkCountOf (length: number, chunkBytes: number): number {
  return Math.ceil(length / chunkBytes)
}

function withoutField (headers: readonly string[], name: string): string[] {
  const out: string[] = []
  for (let i = 0; i < headers.length; i += 2) if (headers[i] !== name) out.push(headers[i] as string, headers[i + 1] as string)
  return out
}

function withContentLength (headers: readonly string[], value: string): string[] {
  const out = headers.slice()
  for (let i = 0; i < out.length; i += 2) if (out[i] === 'content-length') out[i + 1] = value
  return out
}
