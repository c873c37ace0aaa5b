/**
 * Issue 22, item 5: a Range request for something corral will not store reaches the origin as a Range request (it
 * used to be dropped, and every seek in a video pulled the whole file); a stored object answers ranges itself.
 */
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { startProxy, manyConnections, type TestProxy } from '../helpers/proxy.js'
import { closeAfterEach } from '../helpers/opened.js'
import { byteOrigin, bytesOf } from '../helpers/byte-origin.js'

const { opened } = closeAfterEach()
const SIZE = 5 * 1024 * 1024

async function ranged (proxy: TestProxy, path: string, range: string): Promise<{ status: number, headers: Record<string, unknown>, body: Buffer }> {
  const res = await request(`${proxy.url}${path}`, { headers: { range }, dispatcher: manyConnections })
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }
}

describe('issue 22: Range requests', () => {
  it('an uncacheable object: every Range request is answered by the origin with just its range', async () => {
    const origin = opened(await startOrigin(byteOrigin(SIZE, { headers: { 'cache-control': 'no-store' } })))
    const proxy = opened(await startProxy(origin.url))
    for (const [start, end] of [[1_000_000, 1_000_999], [4_000_000, 4_000_099], [0, 9]] as const) {
      const got = await ranged(proxy, '/video.mp4', `bytes=${start}-${end}`)
      expect(got.status).toBe(206)
      expect(got.headers['content-range']).toBe(`bytes ${start}-${end}/${SIZE}`)
      expect(got.body.equals(bytesOf(start, end - start + 1))).toBe(true)
    }
    // Every request after the first went straight to the origin with its Range (hit-for-pass); the first one's fill
    // was cut off as soon as its headers said not storable, then asked again with the Range.
    const ranges = origin.requests.map(r => r.headers.range)
    expect(ranges.slice(-3)).toEqual(['bytes=1000000-1000999', 'bytes=4000000-4000099', 'bytes=0-9'])
    expect(origin.count).toBe(4)
  })

  it('an object over cache.maxObjectBytes: once known too large, the Range goes to the origin', async () => {
    const origin = opened(await startOrigin(byteOrigin(SIZE, { headers: { 'cache-control': 'max-age=60' } })))
    const proxy = opened(await startProxy(origin.url, { cache: { maxObjectBytes: 1024 * 1024 } }))
    // The first request's fill learns the size; its range is answered from that one shared fetch (shared-stream.ts).
    const got = await ranged(proxy, '/big.mp4', 'bytes=2000000-2000499')
    expect(got.status).toBe(206)
    expect(got.body.equals(bytesOf(2_000_000, 500))).toBe(true)
    expect(origin.count).toBe(1)
    const again = await ranged(proxy, '/big.mp4', 'bytes=3000000-3000499')
    expect(again.status).toBe(206)
    expect(again.body.equals(bytesOf(3_000_000, 500))).toBe(true)
    expect(origin.requests.at(-1)?.headers.range).toBe('bytes=3000000-3000499')
  })

  it('a storable object is fetched whole once and every range after comes from the cache', async () => {
    const origin = opened(await startOrigin(byteOrigin(SIZE, { headers: { 'cache-control': 'max-age=60' } })))
    const proxy = opened(await startProxy(origin.url))
    const first = await ranged(proxy, '/clip.mp4', 'bytes=100-199')
    expect(first.status).toBe(206)
    expect(first.body.equals(bytesOf(100, 100))).toBe(true)
    const later = await ranged(proxy, '/clip.mp4', `bytes=${SIZE - 10}-`)
    expect(later.status).toBe(206)
    expect(later.headers['x-cache']).toBe('HIT')
    expect(later.body.equals(bytesOf(SIZE - 10, 10))).toBe(true)
    expect((await ranged(proxy, '/clip.mp4', `bytes=${SIZE}-`)).status).toBe(416)
    expect(origin.count).toBe(1)
    expect(origin.requests[0]?.headers.range).toBeUndefined()
  })
})
