import { brotliCompressSync, gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { makeEntry as makeStoredEntry } from '../../src/core/make-entry.js'
import { MemcachedStore } from '../../src/store/memcached.js'
import { RECORD_MEMO_MAX_BYTES, RecordMemo } from '../../src/store/record-memo.js'
import { makeEntry, makeVary, uniqueKey } from './records.js'

const address = inject('memcached')

describe('RecordMemo', () => {
  it('hands a record back for its own stamp only, and forgets it on delete', () => {
    const memo = new RecordMemo()
    const key = uniqueKey()
    const kept = memo.keep(key, 7, makeVary(key), 100)
    expect(memo.get(key, 7)).toBe(kept)
    expect(memo.get(key, 8)).toBeUndefined()
    expect(memo.get(uniqueKey(), 7)).toBeUndefined()
    memo.forget(key)
    expect(memo.get(key, 7)).toBeUndefined()
  })

  it('keeps a body of its own, not the view into a larger read it was decoded from', () => {
    const memo = new RecordMemo()
    const key = uniqueKey()
    const read = Buffer.alloc(64 * 1024, 1)
    const kept = memo.keep(key, 1, makeEntry(key, { body: read.subarray(100, 1124) }), 2000)
    expect(kept.kind === 'entry' && kept.body.buffer.byteLength).toBe(1024)
    expect(kept.kind === 'entry' && kept.body.equals(Buffer.alloc(1024, 1))).toBe(true)
    expect(memo.get(key, 1)).toBe(kept)
  })

  it('stays within its bound in bytes, and hands a version too large to keep back as it is', () => {
    const memo = new RecordMemo()
    for (let i = 0; i < 40; i++) {
      const key = uniqueKey()
      memo.keep(key, i, makeEntry(key, { body: Buffer.alloc(1024 * 1024) }), 1024 * 1024 + 500)
    }
    expect(memo.bytes).toBeLessThanOrEqual(RECORD_MEMO_MAX_BYTES)
    expect(memo.size).toBeGreaterThan(0)
    const huge = uniqueKey()
    const entry = makeEntry(huge, { body: Buffer.alloc(RECORD_MEMO_MAX_BYTES / 4) })
    expect(memo.keep(huge, 1, entry, RECORD_MEMO_MAX_BYTES / 4 + 500)).toBe(entry)
    expect(memo.get(huge, 1)).toBeUndefined()
  })
})

describe.skipIf(address === null)('MemcachedStore decodes each stored version once', () => {
  let store: MemcachedStore
  let other: MemcachedStore
  beforeAll(async () => {
    const prefix = `rm${Math.random().toString(36).slice(2, 8)}:`
    const options = { servers: [address as string], timeoutMs: 1000, retryDownMs: 60_000, prefix, maxItemBytes: 1024 * 1024 }
    store = new MemcachedStore(options)
    other = new MemcachedStore(options)
    await Promise.all([store.ready, other.ready])
  })
  afterAll(async () => {
    await store.close()
    await other.close()
  })

  it('hands out the record it decoded while memcached answers that version, and the next version once written elsewhere', async () => {
    const key = uniqueKey()
    await store.set(key, makeEntry(key, { etag: '"one"' }), 60_000)
    const first = await store.get(key)
    expect(first).toMatchObject({ etag: '"one"' })
    expect(await store.get(key)).toBe(first)
    expect(await store.lookup(key)).toBe(first)
    await other.set(key, makeEntry(key, { etag: '"two"' }), 60_000)
    const second = await store.get(key)
    expect(second).toMatchObject({ etag: '"two"' })
    expect(await store.get(key)).toBe(second)
    await other.delete(key)
    expect(await store.get(key)).toBeUndefined()
    expect(store.memoisedRecords.records).toBeGreaterThan(0)
  })

  it('decodes a page stored as coded bodies once per version, not once per get', async () => {
    const key = uniqueKey()
    const page = Buffer.from('<p>coded once</p>'.repeat(500))
    const now = Date.now()
    const entry = makeStoredEntry(key, 200, { 'content-type': 'text/html', 'cache-control': 'max-age=60' }, page,
      { storedAt: now, initialAgeSeconds: 0, freshUntil: now + 60_000, staleWhileRevalidateUntil: now + 60_000, staleIfErrorUntil: now + 60_000, mustRevalidate: false },
      undefined, [{ coding: 'br', body: brotliCompressSync(page) }, { coding: 'gzip', body: gzipSync(page) }])
    await store.set(key, entry, 60_000)
    const first = await store.get(key)
    expect(first?.kind === 'entry' && first.body.equals(page)).toBe(true)
    expect(first?.kind === 'entry' && first.encoded?.map((c) => c.coding)).toEqual(['br', 'gzip'])
    expect(await store.get(key)).toBe(first)
  })
})
