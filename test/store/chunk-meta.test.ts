import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { makeEntry as makeFilledEntry } from '../../src/core/make-entry.js'
import { decodeChunkedMeta } from '../../src/store/chunk-meta.js'
import { encodeRecord } from '../../src/store/codec.js'
import { makeEntry, makeVary } from './records.js'

const KEY = 'example.com/clip.webm'
const body = Buffer.alloc(50_000, 7)
const entry = makeEntry(KEY, { body, headers: ['content-type', 'video/webm', 'content-length', String(body.length)], tags: ['clips'] })

describe('an entry\'s metadata from the first bytes of its record', () => {
  it('decodes the metadata and says where the body starts, from a prefix that holds no body byte', () => {
    const value = encodeRecord(entry)
    const metaBytes = value.readUInt32BE(2)
    const decoded = decodeChunkedMeta(value.subarray(0, 16 + metaBytes), value.length, KEY)
    expect(decoded).not.toBe('whole')
    expect(decoded).not.toBeUndefined()
    if (decoded === undefined || decoded === 'whole') return
    expect(decoded.bodyOffset).toBe(16 + metaBytes)
    expect(decoded.bodyBytes).toBe(body.length)
    const { body: _ignored, ...rest } = entry
    expect(decoded.meta).toMatchObject(rest)
    expect(decoded.meta.body.length).toBe(0)
    expect(value.subarray(decoded.bodyOffset).equals(body)).toBe(true)
  })

  it('another key, a damaged header, lengths that do not add up, or a Vary index: a miss', () => {
    const value = encodeRecord(entry)
    expect(decodeChunkedMeta(value.subarray(0, 4096), value.length, 'example.com/other')).toBeUndefined()
    expect(decodeChunkedMeta(value.subarray(0, 4096), value.length + 1, KEY)).toBeUndefined()
    const damaged = Buffer.from(value.subarray(0, 4096))
    damaged[0] = 0
    expect(decodeChunkedMeta(damaged, value.length, KEY)).toBeUndefined()
    const lying = encodeRecord(makeEntry(KEY, { body, headers: ['content-length', '12'] }))
    expect(decodeChunkedMeta(lying.subarray(0, 4096), lying.length, KEY)).toBeUndefined()
    const vary = encodeRecord(makeVary(KEY))
    expect(decodeChunkedMeta(vary, vary.length, KEY)).toBeUndefined()
  })

  it('metadata longer than the prefix, or coded bodies: read whole', () => {
    const value = encodeRecord(entry)
    expect(decodeChunkedMeta(value.subarray(0, 40), value.length, KEY)).toBe('whole')
    const deadlines = { storedAt: 1000, initialAgeSeconds: 0, freshUntil: 61_000, staleWhileRevalidateUntil: 61_000, staleIfErrorUntil: 61_000, mustRevalidate: false }
    const text = Buffer.from('<p>a page</p>'.repeat(2000))
    const coded = encodeRecord(makeFilledEntry(KEY, 200, { 'content-type': 'text/html' }, text, deadlines, undefined, [{ coding: 'gzip', body: gzipSync(text) }]))
    expect(decodeChunkedMeta(coded.subarray(0, 4096), coded.length, KEY)).toBe('whole')
  })
})
