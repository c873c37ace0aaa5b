import { describe, expect, it } from 'vitest'
import { crc32 } from 'node:zlib'
import { CHUNK_HEAD_BYTES, chunkItemKey, chunkKeyOf, chunkOwnerOf, decodeHead, encodeCommittedHead, isChunkHead, joinChunks, splitValue } from '../../src/store/chunk-codec.js'
import { decodeRecord, encodeRecord } from '../../src/store/codec.js'
import { encodeRecordPrefix } from '../../src/store/chunk-meta.js'
import { makeEntry } from './records.js'

function bytes (n: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff
  return b
}

describe('chunk codec', () => {
  it('splits a value into chunks of the size asked and joins them back byte for byte', () => {
    const value = bytes(10_001)
    const { head, headBytes, chunks } = splitValue(value, 1000)
    expect(chunks.map(c => c.length)).toEqual([...Array(10).fill(1000), 1])
    expect(head).toMatchObject({ totalBytes: 10_001, chunkCount: 11, chunkBytes: 1000 })
    expect(headBytes.length).toBe(CHUNK_HEAD_BYTES)
    expect(decodeHead(headBytes)).toEqual(head)
    const joined = joinChunks(head, chunks)
    expect(joined.kind === 'value' && joined.value.equals(value)).toBe(true)
  })

  it('names a new version on every split, so a rewrite never reuses a chunk key a live head points to', () => {
    const value = bytes(5000)
    const a = splitValue(value, 1000).head.version
    const b = splitValue(value, 1000).head.version
    expect(a).not.toBe(b)
    expect(chunkItemKey('p:abc', a, 3)).not.toBe(chunkItemKey('p:abc', b, 3))
    expect(chunkItemKey('p:abc', a, 3).length - 'p:abc'.length).toBeLessThanOrEqual(28)
  })

  it('is a torn value, never a short one, when a chunk is missing, short, long or from another write', () => {
    const value = bytes(3500)
    const { head, chunks } = splitValue(value, 1000)
    expect(joinChunks(head, [chunks[0] as Buffer, null, chunks[2] as Buffer, chunks[3] as Buffer])).toEqual({ kind: 'torn', reason: 'missing' })
    expect(joinChunks(head, chunks.slice(0, 3))).toEqual({ kind: 'torn', reason: 'missing' })
    expect(joinChunks(head, [chunks[0] as Buffer, (chunks[1] as Buffer).subarray(1), chunks[2] as Buffer, chunks[3] as Buffer])).toEqual({ kind: 'torn', reason: 'length' })
    // Same lengths, other bytes: a chunk of another write of the same size.
    const other = splitValue(bytes(3500).fill(1, 1000, 2000), 1000)
    expect(joinChunks(head, [chunks[0] as Buffer, other.chunks[1] as Buffer, chunks[2] as Buffer, chunks[3] as Buffer])).toEqual({ kind: 'torn', reason: 'checksum' })
  })

  it('never takes a record for a head, nor a damaged head for a good one', () => {
    const record = encodeRecord(makeEntry('example.com/x'))
    expect(isChunkHead(record)).toBe(false)
    const { headBytes } = splitValue(bytes(100), 10)
    const wrongCount = Buffer.from(headBytes)
    wrongCount.writeUInt32BE(3, 6)
    expect(decodeHead(wrongCount)).toBeUndefined()
    const wrongVersion = Buffer.from(headBytes)
    wrongVersion[1] = 9
    expect(decodeHead(wrongVersion)).toBeUndefined()
    expect(decodeHead(headBytes.subarray(0, CHUNK_HEAD_BYTES - 1))).toBeUndefined()
  })

  it('a committed head names chunks of the body alone, written beside another key; head and chunks make the record', () => {
    const body = bytes(2500)
    const entry = makeEntry('example.com/clip', { body, headers: ['content-type', 'video/mp4', 'content-length', '2500'] })
    const prefix = encodeRecordPrefix(entry) as Buffer
    const chunks = [body.subarray(0, 1000), body.subarray(1000, 2000), body.subarray(2000)]
    const written = { bodyBytes: 2500, chunkBytes: 1000, crc: crc32(body), version: 'AAAAAAAAAAAAAAAA' }
    const { head, headBytes } = encodeCommittedHead(written, 'p:primary', prefix)
    expect(isChunkHead(headBytes)).toBe(true)
    const decoded = decodeHead(headBytes)
    expect(decoded).toEqual(head)
    expect(decoded).toMatchObject({ totalBytes: 2500, chunkCount: 3, chunkBytes: 1000 })
    expect(chunkKeyOf('p:variant', head, 2)).toBe(chunkItemKey('p:primary', written.version, 2))
    expect(chunkOwnerOf('p:variant', head)).toBe('p:primary')
    const joined = joinChunks(decoded as typeof head, chunks)
    if (joined.kind !== 'value') throw new Error(`torn: ${joined.reason}`)
    const record = decodeRecord(joined.value, 'example.com/clip')
    expect(record?.kind === 'entry' && record.body.equals(body)).toBe(true)
    // The CRC covers the body: one byte of another body in a chunk is torn, never served.
    const other = Buffer.from(chunks[1] as Buffer)
    other[0] = (other[0] as number) ^ 1
    expect(joinChunks(head, [chunks[0] as Buffer, other, chunks[2] as Buffer])).toEqual({ kind: 'torn', reason: 'checksum' })
    // A format-1 head keeps its chunks beside its own key.
    const old = splitValue(bytes(100), 10).head
    expect(chunkOwnerOf('p:own', old)).toBe('p:own')
    expect(chunkKeyOf('p:own', old, 1)).toBe(chunkItemKey('p:own', old.version, 1))
  })

  it('refuses a committed head cut short, or one whose key runs past the item', () => {
    const entry = makeEntry('example.com/clip', { body: bytes(2000), headers: ['content-length', '2000'] })
    const { headBytes } = encodeCommittedHead({ bodyBytes: 2000, chunkBytes: 1000, crc: 0, version: 'AAAAAAAAAAAAAAAA' }, 'p:k', encodeRecordPrefix(entry) as Buffer)
    expect(decodeHead(headBytes.subarray(0, CHUNK_HEAD_BYTES + 1))).toBeUndefined()
    const longKey = Buffer.from(headBytes)
    longKey.writeUInt16BE(60_000, 30)
    expect(decodeHead(longKey)).toBeUndefined()
    const oneTooMany = Buffer.from(headBytes)
    oneTooMany.writeUInt32BE(3, 6)
    expect(decodeHead(oneTooMany)).toBeUndefined()
  })

  it('refuses a chunk size that cannot split anything', () => {
    expect(() => splitValue(bytes(10), 0)).toThrow(RangeError)
  })
})
