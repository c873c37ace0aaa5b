/**
 * Hits from memcached with L1 off hand out a record decoded before while memcached answers the same stored version
 * (store/record-memo.ts). Whatever the memo holds, a version written by another client or a purge is what the next
 * request gets.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { makeEntry } from '../../src/core/make-entry.js'
import { MemcachedStore } from '../../src/store/memcached.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { get, startProxy, type TestProxy } from '../helpers/proxy.js'

const memcached = inject('memcached')
const HOST = 'versions.test'
const KEY = `${HOST}/page`

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close()
})

async function setUp (prefix: string): Promise<{ origin: TestOrigin, proxy: TestProxy, other: MemcachedStore }> {
  const origin = await startOrigin((req, res, n) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' })
    res.end(`origin v${n}`)
  })
  cleanups.push(() => origin.close())
  const proxy = await startProxy(origin.url, {
    log: { level: 'info', access: false },
    cache: { memory: { maxTtlSeconds: 0 }, memcached: { servers: [memcached as string], prefix, timeoutMs: 1000, retryDownMs: 60_000 } }
  })
  cleanups.push(() => proxy.close())
  // Another client of the same memcached and namespace: another proxy, or an operator's tool.
  const other = new MemcachedStore({ servers: [memcached as string], timeoutMs: 1000, retryDownMs: 60_000, prefix, maxItemBytes: 1024 * 1024 })
  cleanups.push(() => other.close())
  await other.ready
  return { origin, proxy, other }
}

async function page (proxy: TestProxy): Promise<{ body: string, xCache: string | undefined }> {
  const got = await get(`${proxy.url}/page`, { host: HOST })
  expect(got.status).toBe(200)
  return { body: got.body, xCache: got.headers['x-cache'] }
}

describe.skipIf(memcached === null)('memcached hits with L1 off serve the stored version, memo or not', () => {
  it('serves a version another client wrote over the one it decoded before, then the purge', async () => {
    const { origin, proxy, other } = await setUp(`versions${randomBytes(4).toString('hex')}:`)
    expect(await page(proxy)).toEqual({ body: 'origin v1', xCache: 'MISS' })
    // Twice from memcached: the second read of the same version comes from the memo.
    expect(await page(proxy)).toEqual({ body: 'origin v1', xCache: 'HIT' })
    expect(await page(proxy)).toEqual({ body: 'origin v1', xCache: 'HIT' })
    expect(await other.get(KEY)).toMatchObject({ kind: 'entry', key: KEY })

    const now = Date.now()
    const written = makeEntry(KEY, 200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' }, Buffer.from('written elsewhere'),
      { storedAt: now, initialAgeSeconds: 0, freshUntil: now + 600_000, staleWhileRevalidateUntil: now + 600_000, staleIfErrorUntil: now + 600_000, mustRevalidate: false })
    await other.set(KEY, written, 600_000)
    expect(await page(proxy)).toEqual({ body: 'written elsewhere', xCache: 'HIT' })
    expect(await page(proxy)).toEqual({ body: 'written elsewhere', xCache: 'HIT' })

    const purged = await fetch(`${proxy.adminUrl}/purge?url=${encodeURIComponent(`http://${HOST}/page`)}`, { method: 'POST' })
    expect(purged.status).toBe(200)
    expect(await page(proxy)).toEqual({ body: 'origin v2', xCache: 'MISS' })
    expect(await page(proxy)).toEqual({ body: 'origin v2', xCache: 'HIT' })

    // Deleted by another client: a miss, not the version decoded before.
    await other.delete(KEY)
    expect(await page(proxy)).toEqual({ body: 'origin v3', xCache: 'MISS' })
    expect(origin.count).toBe(3)
  })
})
