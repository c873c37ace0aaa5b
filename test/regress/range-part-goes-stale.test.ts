/**
 * Issue 22, item 5: a part (an entry read for one Range from only some of its chunks) answers that range as a fresh hit
 * and nothing else. Here the clock passes the entry's freshness just after the part was read and before the lookup's
 * verdict, so the verdict is stale: the lookup must run again and read the entry whole (a stale answer and its
 * refresh need the body), never answer from the part.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, inject, it } from 'vitest'
import { request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { startProxy, manyConnections, TestClock } from '../helpers/proxy.js'
import { closeAfterEach } from '../helpers/opened.js'
import { byteOrigin, bytesOf } from '../helpers/byte-origin.js'
import { MemcachedStore } from '../../src/store/memcached.js'
import { TieredStore } from '../../src/store/tiered.js'
import { partOf } from '../../src/store/entry-part.js'
import type { PickBytes } from '../../src/store/ranged-tier.js'
import type { CacheRecord, CacheStore, MaybePromise } from '../../src/store/types.js'

const memcached = inject('memcached')
const { opened } = closeAfterEach()
const SIZE = 300_000

/** The tiered store, with the clock moved on right after each ranged read has picked its bytes; parts handed out are kept. */
class ClockMovingStore implements CacheStore {
  readonly name = 'clock-moving'
  readonly parts: CacheRecord[] = []
  constructor (readonly inner: TieredStore, readonly clock: TestClock, public byMs: number) {}
  get (key: string): MaybePromise<CacheRecord | undefined> { return this.inner.get(key) }
  getRange (key: string, pick: PickBytes): MaybePromise<CacheRecord | undefined> {
    const found = this.inner.getRange(key, (meta, bodyBytes) => {
      const wanted = pick(meta, bodyBytes)
      this.clock.advance(this.byMs)
      return wanted
    })
    return Promise.resolve(found).then((record) => {
      if (record?.kind === 'entry' && partOf(record) !== undefined) this.parts.push(record)
      return record
    })
  }

  set (key: string, record: CacheRecord, ttlMs: number): MaybePromise<void> { return this.inner.set(key, record, ttlMs) }
  delete (key: string): MaybePromise<void> { return this.inner.delete(key) }
  async close (): Promise<void> { await this.inner.close() }
}

describe.skipIf(memcached === null)('issue 22: a part that goes stale before the verdict', () => {
  it('is not served: the lookup runs again, whole, and the stale answer has the right bytes', async () => {
    const clock = new TestClock(Date.now())
    const l2 = new MemcachedStore({ servers: [memcached as string], timeoutMs: 1000, retryDownMs: 60_000, prefix: `ps${randomBytes(3).toString('hex')}:`, maxItemBytes: 65_536 })
    const store = new ClockMovingStore(new TieredStore({ l1: { maxBytes: 1 << 20, maxTtlMs: 0 }, l2, clock }), clock, 0)
    const origin = opened(await startOrigin(byteOrigin(SIZE, { headers: { 'cache-control': 'max-age=60, stale-while-revalidate=600' } })))
    const proxy = opened(await startProxy(origin.url, { origin: { url: origin.url, timeoutMs: 5000, retries: 0 } }, { clock, store }))
    const first = await request(`${proxy.url}/clip.webm`, { headers: { host: 'media.test' }, dispatcher: manyConnections })
    expect(first.headers['x-cache']).toBe('MISS')
    await first.body.arrayBuffer()
    // Stored: asked as a Range would ask (a whole read would keep the body in this process, which a Range then uses).
    await expect.poll(async () => (await l2.lookupRange('media.test/clip.webm', () => ({ kind: 'none' })) as CacheRecord | undefined)?.kind, { timeout: 10_000 }).toBe('entry')

    // Fresh when the part is picked; 61 s later (stale) when the verdict is made.
    store.byMs = 61_000
    const res = await request(`${proxy.url}/clip.webm`, { headers: { host: 'media.test', range: 'bytes=150000-150999' }, dispatcher: manyConnections })
    expect(res.statusCode).toBe(206)
    expect(res.headers['x-cache']).toBe('STALE')
    expect(Buffer.from(await res.body.arrayBuffer()).equals(bytesOf(150000, 1000))).toBe(true)
    // The part was read, then not used: the second read (no ranged read any more) was whole.
    expect(store.parts).toHaveLength(1)
    expect(proxy.logs.filter(l => l['msg'] === 'access').at(-1)?.['body']).toBe('chunks')
  })
})
