import { describe, expect, it } from 'vitest'
import { CODEC_HEADER_BYTES, decodeRecord, encodeRecord } from '../../src/store/codec.js'
import type { StoredEntry } from '../../src/store/types.js'
import { binaryBody, makeEntry, makeVary } from './records.js'

const KEY = 'example.com/a?b=1'

describe('codec', () => {
  it('round-trips an entry, undefined members included', () => {
    const entry = makeEntry(KEY, { etag: undefined, lastModified: undefined })
    const decoded = decodeRecord(encodeRecord(entry), KEY)
    expect(decoded).toEqual(entry)
    expect(decoded !== undefined && 'etag' in decoded && 'lastModified' in decoded).toBe(true)
  })

  it('round-trips a Vary index', () => {
    expect(decodeRecord(encodeRecord(makeVary(KEY)), KEY)).toEqual(makeVary(KEY))
  })

  it('keeps the body out of the JSON and returns it as a view into the item, not a copy', () => {
    const buf = encodeRecord(makeEntry(KEY))
    expect(buf.subarray(buf.length - binaryBody.length)).toEqual(binaryBody)
    const decoded = decodeRecord(buf, KEY)
    if (decoded?.kind !== 'entry') throw new Error('expected an entry')
    expect(decoded.body.buffer).toBe(buf.buffer)
    expect(decoded.body.byteOffset).toBe(buf.byteOffset + buf.length - binaryBody.length)
  })

  it('answers undefined for an item stored under another full key', () => {
    expect(decodeRecord(encodeRecord(makeEntry(KEY)), KEY + '&c=2')).toBeUndefined()
  })

  it('answers undefined for a truncated or padded item, at every cut', () => {
    const buf = encodeRecord(makeEntry(KEY))
    for (const cut of [0, 1, 5, CODEC_HEADER_BYTES, CODEC_HEADER_BYTES + 10, buf.length - 1]) {
      expect(decodeRecord(buf.subarray(0, cut), KEY)).toBeUndefined()
    }
    expect(decodeRecord(Buffer.concat([buf, Buffer.from([0])]), KEY)).toBeUndefined()
  })

  it('answers undefined for an unknown version or magic', () => {
    const wrongVersion = Buffer.from(encodeRecord(makeEntry(KEY)))
    wrongVersion[1] = 1
    expect(decodeRecord(wrongVersion, KEY)).toBeUndefined()
    const wrongMagic = Buffer.from(encodeRecord(makeEntry(KEY)))
    wrongMagic[0] = 0x7b
    expect(decodeRecord(wrongMagic, KEY)).toBeUndefined()
    expect(decodeRecord(Buffer.from('{"kind":"entry"}'), KEY)).toBeUndefined()
  })

  it('answers undefined for damaged metadata instead of throwing', () => {
    const buf = Buffer.from(encodeRecord(makeEntry(KEY)))
    buf[CODEC_HEADER_BYTES] = 0x7d // `}`: the JSON no longer parses
    expect(decodeRecord(buf, KEY)).toBeUndefined()
    const meta = Buffer.from(JSON.stringify({ kind: 'entry', key: KEY, status: 'ok' }))
    const header = Buffer.from([0xC7, 1, 0, 0, 0, meta.length, 0, 0, 0, 0])
    expect(decodeRecord(Buffer.concat([header, meta]), KEY)).toBeUndefined()
  })

  it('answers undefined for a head node:http would refuse to write or a length the body does not have', () => {
    const length = String(binaryBody.length)
    // Each parses as JSON and has the right field types: only what node:http would do with it is wrong.
    const damaged: Array<Partial<StoredEntry>> = [
      { headers: ['content-type', 'text/html\u0001', 'content-length', length] }, // a control character in a value
      { headers: ['content type', 'text/html', 'content-length', length] }, // not a token
      { headers: ['content-type'] }, // an odd list
      { headers: ['content-length', String(binaryBody.length + 1)] }, // announces a byte the body lacks
      { status: 42 },
      { status: 200.5 }
    ]
    for (const overrides of damaged) {
      expect(decodeRecord(encodeRecord(makeEntry(KEY, overrides)), KEY), JSON.stringify(overrides)).toBeUndefined()
    }
    // The same record with a sound head decodes.
    expect(decodeRecord(encodeRecord(makeEntry(KEY, { headers: ['content-type', 'text/html', 'content-length', length] })), KEY)).toBeDefined()
  })

  it('answers undefined when a flipped bit in memcached turned a header byte into one node:http refuses', () => {
    const buf = Buffer.from(encodeRecord(makeEntry(KEY, { headers: ['x-note', 'abc'] })))
    const at = buf.indexOf('abc', CODEC_HEADER_BYTES)
    buf[at] = (buf[at] as number) ^ 0x1e // 'a' (0x61) becomes DEL (0x7f): still valid JSON, not a header byte
    expect(decodeRecord(buf, KEY)).toBeUndefined()
  })
})
