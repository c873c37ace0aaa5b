/**
 * store/coded-bodies: how an entry's coded bodies travel in a memcached item (store/codec.ts).
 *
 * An item holds the coded bodies only, back to back, with their codings and lengths in the metadata (`layout`); the
 * identity bytes are decoded from one of them when the item is read. For a 100 KiB HTML page that is br + gzip,
 * 0.30 of the identity size, where identity + br + gzip would be 1.30: memcached holds well under one identity copy
 * per page. The price is one decode per read from memcached (0.19 ms from br for 100 KiB, this machine), paid once
 * per process per page version while L1 is on (L1 keeps the decoded entry).
 */
import type { CodedBody, ContentCoding } from '../core/entry.js'
import * as zlib from 'node:zlib'
import { makeCodedBody } from '../core/coded-body.js'

/** `[coding, bytes]` per coded body, in the order they follow one another in the item. */
export type Layout = ReadonlyArray<readonly [ContentCoding, number]>

export function layoutOf (encoded: readonly CodedBody[]): Layout {
  return encoded.map((c) => [c.coding, c.body.length] as const)
}

export function isLayout (value: unknown): value is Layout {
  if (!Array.isArray(value) || value.length === 0) return false
  for (const part of value) {
    if (!Array.isArray(part) || part.length !== 2) return false
    const [coding, bytes] = part as unknown[]
    if ((coding !== 'br' && coding !== 'gzip' && coding !== 'zstd') || !Number.isSafeInteger(bytes) || (bytes as number) < 0) return false
  }
  return true
}

/** The coded bodies one after another, as the item stores them. */
export function codedBodies (encoded: readonly CodedBody[]): Buffer[] {
  return encoded.map((c) => c.body)
}

/** Which stored body the identity is decoded from: brotli, the fastest to decode, when there is one. */
const DECODE_ORDER: readonly ContentCoding[] = ['br', 'zstd', 'gzip']

/**
 * The identity bytes and coded bodies of a stored region; undefined when the region does not add up or the identity
 * does not decode to `identityBytes` (the Content-Length stored with it). Coded bodies are views into the region.
 */
export function expandBodies (
  layout: Layout, region: Buffer, headers: readonly string[], etag: string | undefined, identityBytes: number
): { readonly identity: Buffer, readonly encoded: readonly CodedBody[] } | undefined {
  let total = 0
  for (const [, bytes] of layout) total += bytes
  if (total !== region.length) return undefined
  const raw: Array<[ContentCoding, Buffer]> = []
  let at = 0
  for (const [coding, bytes] of layout) {
    raw.push([coding, region.subarray(at, at + bytes)])
    at += bytes
  }
  let identity: Buffer | undefined
  for (const coding of DECODE_ORDER) {
    const found = raw.find((r) => r[0] === coding)
    if (found !== undefined) {
      identity = decodeSync(coding, found[1], identityBytes)
      break
    }
  }
  if (identity === undefined) return undefined
  return { identity, encoded: raw.map(([coding, body]) => makeCodedBody(headers, etag, coding, body)) }
}

/** The identity Content-Length in a ready-to-write list; NaN when absent or not a number. */
export function identityLengthOf (headers: readonly string[]): number {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'content-length') return /^\d+$/.test(headers[i + 1] as string) ? Number(headers[i + 1]) : NaN
  return NaN
}

/**
 * Coded bodies that own their memory (store/tiered.ts keeps L1 entries apart from memjs's read buffers, which hold
 * many items): the same list when every body already does.
 */
export function ownCodedBodies (encoded: readonly CodedBody[] | undefined): readonly CodedBody[] | undefined {
  if (encoded === undefined || encoded.every((c) => c.body.length === c.body.buffer.byteLength)) return encoded
  return encoded.map((c) => {
    if (c.body.length === c.body.buffer.byteLength) return c
    const copy = Buffer.allocUnsafeSlow(c.body.length)
    c.body.copy(copy)
    return { ...c, body: copy }
  })
}

/** node:zlib's zstd where the runtime has it (Node 22.15+). */
const zstdDecompressSync = (zlib as unknown as { zstdDecompressSync?: (buf: Buffer, options: object) => Buffer }).zstdDecompressSync

/**
 * The synchronous decode of an item's body. brotli reads fastest (0.19 ms for a 100 KiB page where gunzip takes
 * 0.59 ms, this machine), so it is preferred when stored. `undefined` when the bytes do not decode to exactly `bytes`.
 */
function decodeSync (coding: ContentCoding, body: Buffer, bytes: number): Buffer | undefined {
  const options = { maxOutputLength: Math.max(1, bytes) }
  try {
    const out = coding === 'br' ? zlib.brotliDecompressSync(body, options) : coding === 'gzip' ? zlib.gunzipSync(body, options) : zstdDecompressSync?.(body, options)
    return out !== undefined && out.length === bytes ? out : undefined
  } catch {
    return undefined
  }
}
