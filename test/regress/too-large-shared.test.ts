/**
 * Issue 22, item 4: an answer over cache.maxObjectBytes that is otherwise storable is relayed to every client that
 * asked while it was being fetched, from one origin request, with a bounded window: a client that stops reading is cut
 * off, the others finish.
 */
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { startProxy, manyConnections, coalescedWaiters, type TestProxy } from '../helpers/proxy.js'
import { closeAfterEach } from '../helpers/opened.js'
import { stalledReader } from '../helpers/stalled-reader.js'
import { byteOrigin, bytesOf } from '../helpers/byte-origin.js'

const { opened, sockets } = closeAfterEach()
const MB = 1024 * 1024

async function fetchAll (proxy: TestProxy, path: string): Promise<{ status: number, headers: Record<string, unknown>, body: Buffer }> {
  const res = await request(`${proxy.url}${path}`, { dispatcher: manyConnections })
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }
}

describe('issue 22: too large to store, still one origin fetch', () => {
  it('20 concurrent clients of a 2 MB object (maxObjectBytes 1 MB) share one origin request; a later wave shares another', async () => {
    const origin = opened(await startOrigin(byteOrigin(2 * MB, { headers: { 'cache-control': 'max-age=60' } })))
    const proxy = opened(await startProxy(origin.url, { cache: { maxObjectBytes: MB } }))
    for (let wave = 1; wave <= 2; wave++) {
      const before = await coalescedWaiters(proxy)
      origin.hold()
      const burst = Array.from({ length: 20 }, async () => await fetchAll(proxy, '/feed.bin'))
      await origin.arrived(wave)
      await expect.poll(async () => await coalescedWaiters(proxy), { timeout: 10_000 }).toBe(before + 19)
      origin.release()
      const all = await Promise.all(burst)
      const expected = bytesOf(0, 2 * MB)
      expect(all.filter(r => r.status !== 200 || !r.body.equals(expected))).toHaveLength(0)
      const statuses = all.map(r => String(r.headers['cache-status']))
      expect(statuses.filter(s => s === 'corral; fwd=uri-miss; detail=too-large-streamed')).toHaveLength(1)
      expect(statuses.filter(s => s === 'corral; fwd=uri-miss; collapsed; detail=too-large-streamed')).toHaveLength(19)
      expect(origin.count).toBe(wave)
    }
  })

  it('one client alone that reads slowly is paced, never cut off (the origin waits for it)', async () => {
    const size = 24 * MB
    const origin = opened(await startOrigin(byteOrigin(size, { headers: { 'cache-control': 'max-age=60' } })))
    const proxy = opened(await startProxy(origin.url, { cache: { maxObjectBytes: MB } }))
    const res = await request(`${proxy.url}/slow.bin`, { dispatcher: manyConnections })
    let received = 0
    let sinceBreak = 0
    for await (const chunk of res.body) {
      received += (chunk as Buffer).length
      sinceBreak += (chunk as Buffer).length
      if (sinceBreak >= 2 * MB) {
        sinceBreak = 0
        await new Promise(resolve => setImmediate(resolve))
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    }
    expect(res.headers['cache-status']).toBe('corral; fwd=uri-miss; detail=too-large-streamed')
    expect(received).toBe(size)
  }, 30_000)

  it('a client that stops reading is cut off once it is a window behind; the others get every byte', async () => {
    const size = 24 * MB
    const origin = opened(await startOrigin(byteOrigin(size, { headers: { 'cache-control': 'max-age=60' } })))
    const proxy = opened(await startProxy(origin.url, { cache: { maxObjectBytes: MB } }))
    origin.hold()
    // A raw client that sends its request and never reads: the kernel's buffers fill, then it falls behind.
    const stuck = stalledReader(proxy.url, '/huge.bin')
    sockets.push(stuck.socket)
    await origin.arrived(1)
    await expect.poll(async () => await coalescedWaiters(proxy), { timeout: 10_000 }).toBe(0)
    const readers = Array.from({ length: 3 }, async () => await fetchAll(proxy, '/huge.bin'))
    await expect.poll(async () => await coalescedWaiters(proxy), { timeout: 10_000 }).toBe(3)
    origin.release()
    const all = await Promise.all(readers)
    for (const r of all) {
      expect(r.status).toBe(200)
      expect(r.body.length).toBe(size)
    }
    expect(all[0]?.body.equals(bytesOf(0, size))).toBe(true)
    // Reading again, it finds what the kernel held for it and then the end: far short of the object.
    stuck.socket.resume()
    await stuck.closed
    expect(stuck.received()).toBeLessThan(size / 2)
    expect(origin.count).toBe(1)
  }, 30_000)
})
