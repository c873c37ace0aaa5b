import { afterEach, describe, expect, inject, it } from 'vitest'
import { BanList } from '../../src/purge/bans.js'
import { ScreenedStore } from '../../src/purge/screened-store.js'
import { MemcachedStore } from '../../src/store/memcached.js'
import { partOf } from '../../src/store/entry-part.js'
import type { StoredEntry } from '../../src/store/types.js'
import { makeEntry, uniqueKey } from '../store/records.js'

const address = inject('memcached')
const T0 = 1_700_000_000_000
const BODY = Buffer.alloc(40_000, 3)

describe.skipIf(address === null)('a Range read from chunks goes through the purge records', () => {
  const stores: MemcachedStore[] = []
  afterEach(async () => { for (const s of stores.splice(0)) await s.close() })

  async function storedEntry (): Promise<{ store: MemcachedStore, key: string }> {
    // 4 KiB items: the 40 kB body is a dozen chunks.
    const store = new MemcachedStore({ servers: [address as string], timeoutMs: 1000, retryDownMs: 60_000, prefix: `sr${Math.random().toString(36).slice(2, 8)}:`, maxItemBytes: 4096 })
    stores.push(store)
    const key = uniqueKey('screened')
    const entry = makeEntry(key, { body: BODY, headers: ['content-type', 'video/webm', 'content-length', String(BODY.length)], requestedAt: T0, freshUntil: Date.now() + 60_000 })
    await store.set(key, entry, 60_000)
    return { store, key }
  }
  const pick = (): { kind: 'slice', start: number, end: number } => ({ kind: 'slice', start: 20_000, end: 20_099 })

  it('a part when no record names the entry; nothing after a hard purge; the whole entry, stale, after a soft one', async () => {
    const { store, key } = await storedEntry()
    const bans = new BanList(30_000)
    const screened = new ScreenedStore(store, bans)
    const part = await screened.lookupRange(key, pick) as StoredEntry
    expect(partOf(part)?.bytes.length).toBe(100)

    bans.add({ kind: 'url', value: key, host: '', at: T0 + 1, soft: true })
    const soft = await screened.lookupRange(key, pick) as StoredEntry
    // Never a stale part: the entry read whole, then softened as any read of it is.
    expect(partOf(soft)).toBeUndefined()
    expect(soft.body.equals(BODY)).toBe(true)
    expect(soft.freshUntil).toBe(T0 + 1)

    bans.add({ kind: 'url', value: key, host: '', at: T0 + 2, soft: false })
    expect(await screened.lookupRange(key, pick)).toBeUndefined()
  })
})
