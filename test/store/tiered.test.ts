import { afterEach, describe, expect, inject, it } from 'vitest'
import { MemcachedStore } from '../../src/store/memcached.js'
import { MemoryStore } from '../../src/store/memory.js'
import { TieredStore } from '../../src/store/tiered.js'
import { UNREACHABLE, type SharedTier, type Unreachable } from '../../src/store/shared-tier.js'
import { isPromise, type CacheRecord, type CacheStore } from '../../src/store/types.js'
import { cacheStoreContract } from './contract.js'
import { makeEntry, makeVary, uniqueKey } from './records.js'

const address = inject('memcached')
const NOW = 1_700_000_000_000

function makeMemcached (server: string): MemcachedStore {
  return new MemcachedStore({
    servers: [server],
    timeoutMs: 500,
    retryDownMs: 60_000,
    prefix: `tiered${Math.random().toString(36).slice(2, 8)}:`,
    maxItemBytes: 1024 * 1024
  })
}

/** An L2 that answers through a promise like memcached, and counts reads: runs without a memcached. */
class AsyncMemory implements CacheStore {
  readonly name = 'async-memory'
  readonly inner = new MemoryStore({ maxBytes: 10_000_000 })
  gets = 0
  async get (key: string): Promise<CacheRecord | undefined> { this.gets++; return this.inner.get(key) }
  async set (key: string, record: CacheRecord, ttlMs: number): Promise<void> { this.inner.set(key, record, ttlMs) }
  async delete (key: string): Promise<void> { this.inner.delete(key) }
  async close (): Promise<void> {}
}

const clock = { now: () => NOW }

cacheStoreContract('tiered over an async L2', () => new TieredStore({ l1: { maxBytes: 10_000_000, maxTtlMs: 5000 }, l2: new AsyncMemory(), clock }))
cacheStoreContract('tiered with L1 off', () => new TieredStore({ l1: { maxBytes: 10_000_000, maxTtlMs: 0 }, l2: new AsyncMemory(), clock }))
describe.skipIf(address === null)('on memcached', () => {
  cacheStoreContract('tiered over memcached', () => new TieredStore({ l1: { maxBytes: 10_000_000, maxTtlMs: 5000 }, l2: makeMemcached(address as string), clock }))
})

describe('TieredStore', () => {
  const stores: CacheStore[] = []
  afterEach(async () => { for (const store of stores.splice(0)) await store.close() })

  function tiered (l2: CacheStore, maxTtlMs = 5000): TieredStore {
    const store = new TieredStore({ l1: { maxBytes: 10_000_000, maxTtlMs }, l2, clock })
    stores.push(store)
    return store
  }

  it('fills L1 on an L2 hit, so the next read answers synchronously', async () => {
    const l2 = new AsyncMemory()
    const store = tiered(l2)
    const key = uniqueKey()
    const entry = makeEntry(key, { freshUntil: NOW + 60_000 })
    await l2.set(key, entry, 60_000)

    const first = store.get(key)
    expect(isPromise(first)).toBe(true)
    expect(await first).toEqual(entry)
    const second = store.get(key)
    expect(isPromise(second)).toBe(false)
    expect(second).toEqual(entry)
    expect(l2.gets).toBe(1)
  })

  it('does not fill L1 with an entry past all its deadlines, and keeps a Vary index', async () => {
    const l2 = new AsyncMemory()
    const store = tiered(l2)
    const dead = uniqueKey()
    await l2.set(dead, makeEntry(dead, { freshUntil: NOW - 3, staleWhileRevalidateUntil: NOW - 2, staleIfErrorUntil: NOW - 1 }), 60_000)
    await store.get(dead)
    expect(isPromise(store.get(dead))).toBe(true)
    const vary = uniqueKey()
    await l2.set(vary, makeVary(vary), 60_000)
    await store.get(vary)
    expect(store.get(vary)).toEqual(makeVary(vary))
  })

  it('does not put back into L1 a record deleted while L2 was answering', async () => {
    const l2 = new AsyncMemory()
    const store = tiered(l2)
    const key = uniqueKey()
    await l2.set(key, makeEntry(key), 60_000)
    const reading = store.get(key)
    await store.delete(key)
    expect(await reading).toBeDefined()
    expect(await store.get(key)).toBeUndefined()
  })

  it('bypasses L1 entirely when its maxTtlMs is 0', async () => {
    const l2 = new AsyncMemory()
    const store = tiered(l2, 0)
    const key = uniqueKey()
    await store.set(key, makeEntry(key), 60_000)
    expect(store.l1).toBeUndefined()
    for (let i = 0; i < 3; i++) {
      const read = store.get(key)
      expect(isPromise(read)).toBe(true)
      expect(await read).toEqual(makeEntry(key))
    }
    expect(l2.gets).toBe(3)
  })

  it('with L1 off, reads of one key in flight share one L2 read; a write or delete through it ends the sharing', async () => {
    const l2 = new AsyncMemory()
    const store = tiered(l2, 0)
    const key = uniqueKey()
    await store.set(key, makeEntry(key, { etag: '"old"' }), 60_000)
    const burst = Array.from({ length: 8 }, () => store.get(key))
    for (const read of burst) expect(read).toBe(burst[0])
    expect(l2.gets).toBe(1)
    const written = store.set(key, makeEntry(key, { etag: '"new"' }), 60_000)
    const afterWrite = store.get(key)
    expect(afterWrite).not.toBe(burst[0])
    await written
    expect(await burst[0]).toMatchObject({ etag: '"old"' })
    expect(await afterWrite).toMatchObject({ etag: '"new"' })
    const inFlight = store.get(key)
    const deleted = store.delete(key)
    const afterDelete = store.get(key)
    expect(afterDelete).not.toBe(inFlight)
    await deleted
    expect(await afterDelete).toBeUndefined()
    // Settled reads are not kept: the next read asks L2 again.
    const gets = l2.gets
    expect(await store.get(key)).toBeUndefined()
    expect(l2.gets).toBe(gets + 1)
  })

  it.skipIf(address === null)('fills L1 from memcached and answers the second read synchronously', async () => {
    const l2 = makeMemcached(address as string)
    const store = tiered(l2)
    const key = uniqueKey()
    const entry = makeEntry(key, { freshUntil: NOW + 60_000 })
    await l2.set(key, entry, 60_000)
    expect(await store.get(key)).toEqual(entry)
    const second = store.get(key)
    expect(isPromise(second)).toBe(false)
    expect(second).toEqual(entry)
  })

  it.skipIf(address === null)('fills L1 from memcached with a body of its own, not a view into memjs\'s read buffer', async () => {
    const l2 = makeMemcached(address as string)
    const store = tiered(l2)
    const keys = Array.from({ length: 20 }, () => uniqueKey())
    const body = Buffer.alloc(1024, 120)
    for (const key of keys) await l2.set(key, makeEntry(key, { body }), 60_000)
    // Read in one burst: their answers arrive in a few reads, each body a view into a buffer holding many of them.
    const read = await Promise.all(keys.map(async key => await store.get(key)))
    expect(read).toEqual(keys.map(key => makeEntry(key, { body })))
    for (const key of keys) {
      const kept = store.l1?.get(key)
      expect(kept?.kind === 'entry' && kept.body.equals(body)).toBe(true)
      expect(kept?.kind === 'entry' && kept.body.buffer.byteLength).toBe(1024)
    }
  })

  it('keeps serving from L1 when memcached is unreachable', async () => {
    const store = tiered(new MemcachedStore({ servers: ['127.0.0.1:1'], timeoutMs: 200, retryDownMs: 60_000, prefix: 'x:', maxItemBytes: 1024 * 1024 }))
    const key = uniqueKey()
    await store.set(key, makeEntry(key), 60_000)
    expect(store.get(key)).toEqual(makeEntry(key))
    expect(await store.get(uniqueKey())).toBeUndefined()
  })
})

/** A shared tier that can be switched unreachable, like a memcached node marked down: writes are then dropped. */
class SwitchableShared extends AsyncMemory implements SharedTier {
  reachable = true
  readonly #back: Array<() => void> = []
  async lookup (key: string): Promise<CacheRecord | undefined | Unreachable> {
    return this.reachable ? await this.get(key) : UNREACHABLE
  }

  override async set (key: string, record: CacheRecord, ttlMs: number): Promise<void> {
    if (this.reachable) await super.set(key, record, ttlMs)
  }

  isReachable (): boolean { return this.reachable }
  onNodeBack (listener: () => void): void { this.#back.push(listener) }
  back (): void {
    this.reachable = true
    for (const listener of this.#back) listener()
  }
}

describe('TieredStore while the shared tier is unreachable (issue 13 item 7)', () => {
  const CAP_MS = 1000
  /** The clock L1's TTLs run on, and the wall clock the entries' deadlines are read with, moving together from NOW. */
  const perf = { t: 1000, now () { return this.t } }
  const wall = { now: () => NOW + perf.t - 1000 }
  /** Last deadline of makeEntry's defaults: stale-if-error, 300 s after NOW. */
  const LAST_DEADLINE_MS = 300_000

  function outage (): { l2: SwitchableShared, store: TieredStore } {
    // Not 0: lru-cache reads a start time of 0 as "no TTL".
    perf.t = 1000
    const l2 = new SwitchableShared()
    return { l2, store: new TieredStore({ l1: { maxBytes: 10_000_000, maxTtlMs: CAP_MS, perf }, l2, clock: wall }) }
  }

  it('keeps a write past the cap for the entry\'s own deadlines', async () => {
    const { l2, store } = outage()
    l2.reachable = false
    const key = uniqueKey()
    await store.set(key, makeEntry(key), 3_600_000)
    perf.t += LAST_DEADLINE_MS - 1
    expect(store.get(key)).toEqual(makeEntry(key))
    perf.t += 2
    expect(await store.get(key)).toBeUndefined()
  })

  it('returns to the cap once a node is back', async () => {
    const { l2, store } = outage()
    l2.reachable = false
    const again = uniqueKey()
    await store.set(again, makeEntry(again), 3_600_000)
    perf.t += 5 * CAP_MS
    expect(store.get(again)).toEqual(makeEntry(again))
    l2.back()
    perf.t += CAP_MS - 1
    expect(store.get(again)).toEqual(makeEntry(again))
    perf.t += 2
    // Back to the cap: memcached is asked again (and, restarted empty, has nothing).
    const read = store.get(again)
    expect(isPromise(read)).toBe(true)
    expect(await read).toBeUndefined()
  })

  it('serves an L1 copy whose cap ran out when the shared tier cannot answer, then keeps it for its deadlines', async () => {
    const { l2, store } = outage()
    const key = uniqueKey()
    await store.set(key, makeEntry(key), 3_600_000)
    l2.reachable = false
    perf.t += CAP_MS + 1
    const carried = store.get(key)
    expect(isPromise(carried)).toBe(true)
    expect(await carried).toEqual(makeEntry(key))
    perf.t += 10 * CAP_MS
    expect(store.get(key)).toEqual(makeEntry(key))
    expect(l2.gets).toBe(0)
  })

  it('does not carry a copy past all its deadlines, nor one the reachable tier no longer has (purged elsewhere)', async () => {
    const { l2, store } = outage()
    const dead = uniqueKey()
    await store.set(dead, makeEntry(dead, { freshUntil: NOW - 3, staleWhileRevalidateUntil: NOW - 2, staleIfErrorUntil: NOW - 1 }), 60_000)
    const purged = uniqueKey()
    await store.set(purged, makeEntry(purged), 60_000)
    await l2.delete(purged)
    perf.t += CAP_MS + 1
    expect(await store.get(purged)).toBeUndefined()
    l2.reachable = false
    expect(await store.get(dead)).toBeUndefined()
  })
})
