import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CacheStore } from '../../src/store/types.js'
import { binaryBody, makeEntry, makeVary, uniqueKey } from './records.js'

export interface ContractOptions {
  /** Moves the store's TTL clock (only stores with an injectable clock: memcached counts real whole seconds). */
  advanceClock?: (ms: number) => void
}

/** One suite every CacheStore passes (memory, memcached, tiered): behaviour callers may rely on whatever the tier. */
export function cacheStoreContract (name: string, makeStore: () => CacheStore | Promise<CacheStore>, options: ContractOptions = {}): void {
  describe(`CacheStore contract: ${name}`, () => {
    let store: CacheStore
    beforeAll(async () => { store = await makeStore() })
    afterAll(async () => { await store.close() })

    it('answers a miss for a key never set', async () => {
      expect(await store.get(uniqueKey())).toBeUndefined()
    })

    it('returns a stored entry with its binary body and every field intact', async () => {
      const key = uniqueKey()
      const entry = makeEntry(key)
      await store.set(key, entry, 60_000)
      const got = await store.get(key)
      expect(got).toEqual(entry)
      expect(got?.kind === 'entry' && Buffer.compare(got.body, binaryBody)).toBe(0)
    })

    it('keeps an empty body and a 10 KB URL key', async () => {
      const key = uniqueKey('x'.repeat(10_000))
      const entry = makeEntry(key, { body: Buffer.alloc(0), status: 204, etag: undefined, lastModified: 'Tue, 01 Oct 2024 00:00:00 GMT' })
      await store.set(key, entry, 60_000)
      expect(await store.get(key)).toEqual(entry)
    })

    it('round-trips a Vary index record', async () => {
      const key = uniqueKey()
      await store.set(key, makeVary(key), 60_000)
      expect(await store.get(key)).toEqual(makeVary(key))
    })

    it('replaces a record on a second set', async () => {
      const key = uniqueKey()
      await store.set(key, makeEntry(key), 60_000)
      const second = makeEntry(key, { status: 404, body: Buffer.from('gone') })
      await store.set(key, second, 60_000)
      expect(await store.get(key)).toEqual(second)
    })

    it('deletes, and deleting a missing key is harmless', async () => {
      const key = uniqueKey()
      await store.set(key, makeEntry(key), 60_000)
      await store.delete(key)
      expect(await store.get(key)).toBeUndefined()
      await store.delete(uniqueKey())
    })

    it('does not store a record whose lifetime is already over', async () => {
      const zero = uniqueKey()
      const negative = uniqueKey()
      await store.set(zero, makeEntry(zero), 0)
      await store.set(negative, makeEntry(negative), -5)
      expect(await store.get(zero)).toBeUndefined()
      expect(await store.get(negative)).toBeUndefined()
    })

    it('answers a miss when the stored record belongs to another full key (a hash collision)', async () => {
      const key = uniqueKey()
      await store.set(key, makeEntry(uniqueKey('other')), 60_000)
      expect(await store.get(key)).toBeUndefined()
    })

    const advance = options.advanceClock
    if (advance !== undefined) {
      it('expires a record after its ttl', async () => {
        const key = uniqueKey()
        await store.set(key, makeEntry(key), 30)
        advance(10)
        expect(await store.get(key)).toBeDefined()
        advance(30)
        expect(await store.get(key)).toBeUndefined()
      })
    }
  })
}
