import { brotliCompressSync, gzipSync } from 'node:zlib'
import { LRUCache } from 'lru-cache'
import { describe, expect, it } from 'vitest'
import { decodeRecord, encodeRecord, type MetaMemo } from '../../src/store/codec.js'
import type { StoredEntry } from '../../src/core/entry.js'
import { makeEntry } from '../../src/core/make-entry.js'
import { recordSize } from '../../src/store/types.js'
import { ownCodedBodies } from '../../src/store/coded-bodies.js'
import { makePage } from '../../bench/page.js'

const KEY = 'site.test/page'
const PAGE = makePage(20_000)
const DEADLINES = { storedAt: 1000, initialAgeSeconds: 0, freshUntil: 61_000, staleWhileRevalidateUntil: 61_000, staleIfErrorUntil: 61_000, mustRevalidate: false }

function codedEntry (): StoredEntry {
  return makeEntry(KEY, 200, { 'content-type': 'text/html', etag: '"v1"' }, PAGE, DEADLINES, undefined, [
    { coding: 'br', body: brotliCompressSync(PAGE) },
    { coding: 'gzip', body: gzipSync(PAGE) }
  ])
}

describe('a coded entry in a memcached item', () => {
  it('holds the coded bodies only, and reads back with identity decoded and each coding\'s headers', () => {
    const entry = codedEntry()
    const item = encodeRecord(entry)
    const codedBytes = (entry.encoded ?? []).reduce((n, c) => n + c.body.length, 0)
    expect(item.length).toBeLessThan(codedBytes + 2000)
    expect(item.length).toBeLessThan(0.5 * PAGE.length)
    const back = decodeRecord(item, KEY)
    expect(back).toEqual(entry)
  })

  it('reads the same through the stamp memo (metadata parsed once)', () => {
    const memo: MetaMemo = new LRUCache({ max: 8, maxSize: 1 << 20 })
    const item = encodeRecord(codedEntry())
    const first = decodeRecord(item, KEY, memo)
    const second = decodeRecord(item, KEY, memo)
    expect(memo.size).toBe(1)
    expect(second).toEqual(first)
    expect(second?.kind === 'entry' && second.body.equals(PAGE)).toBe(true)
  })

  it('is a miss, not an error page, when a coded body is damaged or the layout does not add up', () => {
    const item = encodeRecord(codedEntry())
    const damaged = Buffer.from(item)
    // The br body sits right after the metadata; bytes in its middle are flipped.
    const metaBytes = damaged.readUInt32BE(2)
    damaged.fill(0xff, 16 + metaBytes + 50, 16 + metaBytes + 150)
    expect(decodeRecord(damaged, KEY)).toBeUndefined()
    const meta = JSON.parse(item.toString('utf8', 16, 16 + metaBytes)) as { layout: Array<[string, number]> }
    expect(meta.layout.map(([c]) => c)).toEqual(['br', 'gzip'])
  })

  it('counts its coded bodies in L1\'s byte bound', () => {
    const entry = codedEntry()
    const plain = { ...entry, encoded: undefined }
    expect(recordSize(entry) - recordSize(plain)).toBeGreaterThanOrEqual((entry.encoded ?? []).reduce((n, c) => n + c.body.length, 0))
  })

  it('gets coded bodies of their own before L1 keeps them (a view pins memjs\'s whole read buffer)', () => {
    const back = decodeRecord(encodeRecord(codedEntry()), KEY)
    const owned = ownCodedBodies(back?.kind === 'entry' ? back.encoded : undefined) ?? []
    for (const c of owned) expect(c.body.buffer.byteLength).toBe(c.body.length)
    expect(ownCodedBodies(owned)).toBe(owned)
  })
})
