/**
 * Issue 22, items 1, 2, 6 and 7 through the proxy, with the real memcached: an object over memcached's item size is
 * stored as chunks and served from them (no more MISS, HIT, MISS, HIT as L1's short cap runs out), shared by a fleet
 * from one origin fetch; a chunk evicted is one refetch, never a short body.
 */
import { randomBytes } from 'node:crypto'
import memjs from 'memjs'
import { describe, expect, inject, it } from 'vitest'
import { request } from 'undici'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { startProxy, manyConnections, coalescedWaiters, type TestProxy } from '../helpers/proxy.js'
import { metricSum } from '../helpers/proxy-process.js'
import { closeAfterEach } from '../helpers/opened.js'
import { byteOrigin, bytesOf } from '../helpers/byte-origin.js'
import { chunkItemKey, decodeHead } from '../../src/store/chunk-codec.js'
import { memcachedKey } from '../../src/store/memcached.js'

const memcached = inject('memcached')
const { opened } = closeAfterEach()
const HOST = 'media.test'
const MB = 1024 * 1024

async function fleetProxy (origin: TestOrigin, prefix: string, maxTtlSeconds: number): Promise<TestProxy> {
  return opened(await startProxy(origin.url, {
    origin: { url: origin.url, timeoutMs: 5000, retries: 0 },
    cache: { memory: { maxTtlSeconds }, memcached: { servers: [memcached as string], prefix, timeoutMs: 1000, retryDownMs: 60_000, leaseTtlMs: 5000 } }
  }))
}

async function fetchAll (proxy: TestProxy, path: string): Promise<{ status: number, headers: Record<string, unknown>, body: Buffer }> {
  const res = await request(`${proxy.url}${path}`, { headers: { host: HOST }, dispatcher: manyConnections })
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }
}

async function metrics (proxy: TestProxy): Promise<string> {
  return await (await fetch(`${proxy.adminUrl}/metrics`)).text()
}

/** A streamed fill's client has its last byte before the store write lands: wait for the write. */
async function stored (proxy: TestProxy, n: number): Promise<void> {
  await expect.poll(async () => metricSum(await metrics(proxy), 'corral_chunked_entries_total', 'op="stored"'), { timeout: 10_000 }).toBe(n)
}

describe.skipIf(memcached === null)('issue 22: large objects in memcached, through the proxy', () => {
  it('a 3 MB page with max-age=3600 is a hit from memcached chunks every time after the first fetch', async () => {
    const origin = opened(await startOrigin(byteOrigin(3 * MB, { headers: { 'cache-control': 'max-age=3600' } })))
    // No L1: every read goes to memcached, as every read does once L1's 1 s cap has run out.
    const proxy = await fleetProxy(origin, `c22${randomBytes(3).toString('hex')}:`, 0)
    const first = await fetchAll(proxy, '/hero.jpg')
    expect(first.headers['x-cache']).toBe('MISS')
    await stored(proxy, 1)
    const expected = bytesOf(0, 3 * MB)
    for (let i = 0; i < 4; i++) {
      const again = await fetchAll(proxy, '/hero.jpg')
      expect(again.headers['x-cache']).toBe('HIT')
      expect(again.headers['cache-status']).toMatch(/^corral; hit; ttl=\d+; detail=chunks$/)
      expect(again.body.equals(expected)).toBe(true)
    }
    expect(origin.count).toBe(1)
    const text = await metrics(proxy)
    expect(metricSum(text, 'corral_chunked_entries_total', 'op="stored"')).toBe(1)
    // Read whole at least once; again only when the body was collected meanwhile (store/chunked-memo.ts).
    expect(metricSum(text, 'corral_chunked_entries_total', 'op="read"')).toBeGreaterThanOrEqual(1)
    // The whole body at least (a committed head's chunks hold the body alone, its metadata being in the head).
    expect(metricSum(text, 'corral_chunk_bytes_total', 'op="read"')).toBeGreaterThanOrEqual(3 * MB)
    expect(proxy.logs.filter(l => l['msg'] === 'access' && l['body'] === 'chunks')).toHaveLength(4)
  })

  it('a single chunk evicted costs one refetch, never a short body', async () => {
    const prefix = `c22${randomBytes(3).toString('hex')}:`
    const origin = opened(await startOrigin(byteOrigin(3 * MB, { headers: { 'cache-control': 'max-age=3600' } })))
    const proxy = await fleetProxy(origin, prefix, 0)
    expect((await fetchAll(proxy, '/evicted.mp4')).headers['x-cache']).toBe('MISS')
    await stored(proxy, 1)
    const raw = memjs.Client.create(memcached as string, { retries: 0, logger: { log () {} } })
    try {
      const itemKey = memcachedKey(prefix, `${HOST}/evicted.mp4`)
      const head = decodeHead((await raw.get(itemKey)).value as Buffer)
      // The chunks the streaming fill wrote as it arrived (64 KiB each), committed by the head: not written twice.
      expect(head?.committed).not.toBeNull()
      expect(head?.chunkCount).toBe(48)
      await raw.delete(chunkItemKey(itemKey, head?.version as string, 2))
    } finally {
      raw.close()
    }
    const after = await fetchAll(proxy, '/evicted.mp4')
    expect(after.status).toBe(200)
    expect(after.headers['x-cache']).toBe('MISS')
    expect(after.body.equals(bytesOf(0, 3 * MB))).toBe(true)
    expect(origin.count).toBe(2)
    expect(metricSum(await metrics(proxy), 'corral_chunk_misses_total')).toBe(1)
    await stored(proxy, 2)
    expect((await fetchAll(proxy, '/evicted.mp4')).headers['x-cache']).toBe('HIT')
    expect(origin.count).toBe(2)
  })

  it('100 concurrent requests for a 5 MB object over two proxies reach the origin once', async () => {
    const prefix = `c22${randomBytes(3).toString('hex')}:`
    const origin = opened(await startOrigin(byteOrigin(5 * MB, { headers: { 'cache-control': 'max-age=600' } })))
    const a = await fleetProxy(origin, prefix, 60)
    const b = await fleetProxy(origin, prefix, 60)
    origin.hold()
    const burst = Array.from({ length: 100 }, async (_, i) => await fetchAll(i % 2 === 0 ? a : b, '/spike.mp4'))
    await origin.arrived(1)
    // One leader per proxy; every other request waits behind its own proxy's leader; one of the leaders holds the lease.
    await expect.poll(async () => await coalescedWaiters(a) + await coalescedWaiters(b), { timeout: 10_000 }).toBe(98)
    origin.release()
    const all = await Promise.all(burst)
    const expected = bytesOf(0, 5 * MB)
    expect(all.filter(r => r.status !== 200 || !r.body.equals(expected))).toHaveLength(0)
    expect(origin.count).toBe(1)
  })
})
