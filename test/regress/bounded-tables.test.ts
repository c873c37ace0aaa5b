/**
 * Issue 23, item 2: every in-process table a client can grow is bounded, in bytes where its entries' size is the
 * client's to choose, and what expires is freed when it expires. The audit (README, "Bounded memory") lists each
 * table; these are the ones a test can grow from outside.
 */
import { describe, expect, it } from 'vitest'
import { HitForPass, HIT_FOR_PASS_MAX_BYTES } from '../../src/coalesce/hit-for-pass.js'
import { SingleFlight } from '../../src/coalesce/single-flight.js'
import { KeyMemo, META_MEMO_MAX_BYTES } from '../../src/store/key-memo.js'
import { decodeRecord, encodeRecord } from '../../src/store/codec.js'
import { makeEntry } from '../../src/core/make-entry.js'

describe('hit-for-pass memory', () => {
  it('is bounded by bytes: 20,000 unique 2 KiB URLs stay within HIT_FOR_PASS_MAX_BYTES, the newest remembered', () => {
    const memory = new HitForPass(60_000)
    const url = (i: number): string => `site.test/${String(i).padStart(6, '0')}/${'x'.repeat(2048)}`
    for (let i = 0; i < 20_000; i++) memory.remember(url(i))
    expect(memory.size.bytes).toBeLessThanOrEqual(HIT_FOR_PASS_MAX_BYTES)
    expect(memory.size.urls).toBeLessThan(20_000)
    expect(memory.has(url(19_999))).toBe(true)
    expect(memory.has(url(0))).toBe(false)
  })

  it('frees what expires without being looked up again', async () => {
    const memory = new HitForPass(50)
    for (let i = 0; i < 1000; i++) memory.remember(`site.test/${i}`)
    expect(memory.size.urls).toBe(1000)
    await expect.poll(() => memory.size, { timeout: 3000 }).toEqual({ urls: 0, bytes: 0 })
  })
})

describe('single-flight state', () => {
  it('is freed when a leader never settles: the flight deadline empties the table', async () => {
    const flight = new SingleFlight(50)
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`)
    for (const key of keys) flight.lead(key)
    const inFlight = (): number => keys.filter((key) => flight.has(key)).length
    expect(inFlight()).toBe(1000)
    await expect.poll(inFlight, { timeout: 3000 }).toBe(0)
  })
})

describe('the memcached metadata memo', () => {
  it('is bounded by bytes: versions with 16 KiB of headers each stay within META_MEMO_MAX_BYTES', () => {
    const memo = new KeyMemo('t:')
    const deadlines = { storedAt: 0, initialAgeSeconds: 0, freshUntil: 1, staleWhileRevalidateUntil: 1, staleIfErrorUntil: 1, mustRevalidate: false }
    for (let i = 0; i < 2000; i++) {
      const key = `site.test/${i}`
      const entry = makeEntry(key, 200, { 'x-long': 'v'.repeat(16 * 1024) }, Buffer.from('b'), deadlines)
      expect(decodeRecord(encodeRecord(entry), key, memo.metaFor(key))?.kind).toBe('entry')
    }
    expect(memo.metaBytes).toBeLessThanOrEqual(META_MEMO_MAX_BYTES)
    expect(memo.sizes.meta).toBeLessThan(2000)
  })
})
