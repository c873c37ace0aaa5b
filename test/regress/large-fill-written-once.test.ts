/**
 * Issue 22, a large fill written to memcached once: while it streams, the filling proxy publishes each chunk for
 * followers (coalesce/fleet-publish.ts); the stored entry's head then commits those chunks (store/chunk-commit.ts)
 * instead of writing the whole body again under chunks of its own. Counted at memcached itself (`stats`: the bytes
 * its clients sent it), not by the proxy's word.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { startOrigin } from '../helpers/origin.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { closeAfterEach } from '../helpers/opened.js'
import { byteOrigin, bytesOf } from '../helpers/byte-origin.js'
import { findMemcached, startMemcached } from '../helpers/memcached.js'
import { memcachedStats } from '../helpers/memcached-text.js'
import { metricSum } from '../helpers/proxy-process.js'

const { opened } = closeAfterEach()
const HOST = 'media.test'
const SIZE = 5 * 1024 * 1024

async function proxyOn (originUrl: string, server: string): Promise<TestProxy> {
  return opened(await startProxy(originUrl, {
    origin: { url: originUrl, timeoutMs: 5000, retries: 0 },
    cache: { memory: { maxTtlSeconds: 1 }, memcached: { servers: [server], prefix: `w${randomBytes(3).toString('hex')}:`, timeoutMs: 1000, leaseTtlMs: 5000 } }
  }))
}

describe.skipIf(findMemcached() === null)('issue 22: a large fill is written to memcached once', () => {
  it('a 5 MB fill sends memcached about 5 MB, not twice that', async () => {
    const mc = await startMemcached({ memoryMb: 64 })
    opened({ close: async () => { await mc.stop() } })
    const origin = opened(await startOrigin(byteOrigin(SIZE, { headers: { 'cache-control': 'max-age=600' }, pieceBytes: 256 * 1024 })))
    const proxy = await proxyOn(origin.url, mc.address)
    const before = await memcachedStats(mc.address)
    const res = await fetch(`${proxy.url}/clip.mp4`, { headers: { host: HOST } })
    expect(Buffer.from(await res.arrayBuffer()).equals(bytesOf(0, SIZE))).toBe(true)
    // The store write lands after the answer: wait for it before counting.
    await expect.poll(async () => metricSum(await (await fetch(`${proxy.adminUrl}/metrics`)).text(), 'corral_chunked_entries_total', 'op="stored"')).toBe(1)
    const after = await memcachedStats(mc.address)
    const written = (after.get('bytes_read') ?? 0) - (before.get('bytes_read') ?? 0)
    console.log('memcached bytes written for one 5 MB fill', written, 'sets', (after.get('cmd_set') ?? 0) - (before.get('cmd_set') ?? 0))
    expect(written).toBeGreaterThan(SIZE)
    expect(written).toBeLessThan(SIZE * 1.1)
  })
})
