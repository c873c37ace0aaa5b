/**
 * Issue 22, item 3 for bodies without a Content-Length (chunked transfer from the origin): a large one streams to its
 * leader and every waiter while it arrives, from one origin fetch, and is stored once whole; an origin that dies
 * mid-body leaves every client's chunked answer unterminated (an error, never a body that looks whole); one that grows
 * past cache.maxObjectBytes is relayed to the clients already reading it and never stored (the too-large rule); a small
 * one keeps the old road. The origin sends a first piece and holds the rest on a gate the test opens.
 */
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { startOrigin, type OriginHandler } from '../helpers/origin.js'
import { startProxy, coalescedWaiters, type TestProxy } from '../helpers/proxy.js'
import { closeAfterEach } from '../helpers/opened.js'
import { stalledReader } from '../helpers/stalled-reader.js'
import { streamingClient, type StreamingClient } from '../helpers/streaming-client.js'
import { bytesOf } from '../helpers/byte-origin.js'

const { opened, sockets } = closeAfterEach()
const MB = 1024 * 1024

interface Gate { open: () => void, opened: Promise<void> }
function gate (): Gate {
  let open = (): void => {}
  const opened = new Promise<void>((resolve) => { open = resolve })
  return { open, opened }
}

/** `size` bytes without a Content-Length: `first` of them, then (once `rest` opens) the remainder, or a dead socket. */
function unsized (size: number, first: number, rest: Gate, die = false): OriginHandler {
  const whole = bytesOf(0, size)
  return async (_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'application/octet-stream' })
    res.write(whole.subarray(0, first))
    await rest.opened
    if (die) {
      res.socket?.destroy()
      return
    }
    for (let at = first; at < size; at += 256 * 1024) res.write(whole.subarray(at, Math.min(size, at + 256 * 1024)))
    res.end()
  }
}

async function client (proxy: TestProxy, path: string): Promise<StreamingClient> {
  return await streamingClient(`${proxy.url}${path}`)
}

describe('issue 22: bodies without a Content-Length stream while filling', () => {
  it('20 clients have the first half while the origin holds the rest; one fetch; stored once whole', async () => {
    const rest = gate()
    const size = 2 * MB
    const origin = opened(await startOrigin(unsized(size, MB, rest)))
    const proxy = opened(await startProxy(origin.url))
    const clients = await Promise.all(Array.from({ length: 20 }, async () => await client(proxy, '/feed.bin')))
    for (const c of clients) {
      expect(c.headers['content-length']).toBeUndefined()
      expect(c.headers['transfer-encoding']).toBe('chunked')
      // Only the first half has left the origin: these bytes cannot have come from a stored copy.
      expect(await c.received(MB)).toBeGreaterThanOrEqual(MB)
    }
    expect(origin.count).toBe(1)
    rest.open()
    const expected = bytesOf(0, size)
    for (const c of clients) {
      const got = await c.done
      expect('body' in got && got.body.equals(expected)).toBe(true)
    }
    const statuses = clients.map(c => String(c.headers['cache-status']))
    expect(statuses.filter(s => s === 'corral; fwd=uri-miss; detail=streamed')).toHaveLength(1)
    expect(statuses.filter(s => s === 'corral; hit; detail=collapsed-streamed')).toHaveLength(19)
    await expect.poll(async () => (await client(proxy, '/feed.bin')).headers['x-cache']).toBe('HIT')
    const stored = await client(proxy, '/feed.bin')
    expect(stored.headers['content-length']).toBe(String(size))
    const body = await stored.done
    expect('body' in body && body.body.equals(expected)).toBe(true)
    expect(origin.count).toBe(1)
  })

  it('an origin that dies mid-body leaves every chunked answer unterminated, and stores nothing', async () => {
    const rest = gate()
    const origin = opened(await startOrigin(unsized(2 * MB, MB, rest, true)))
    const proxy = opened(await startProxy(origin.url))
    const clients = await Promise.all(Array.from({ length: 5 }, async () => await client(proxy, '/dies.bin')))
    for (const c of clients) expect(await c.received(MB)).toBeGreaterThanOrEqual(MB)
    rest.open()
    for (const c of clients) expect('error' in await c.done).toBe(true)
    origin.setHandler(unsized(2 * MB, MB, { open () {}, opened: Promise.resolve() }))
    const again = await client(proxy, '/dies.bin')
    expect(again.headers['x-cache']).toBe('MISS')
    const got = await again.done
    expect('body' in got && got.body.equals(bytesOf(0, 2 * MB))).toBe(true)
    expect(origin.count).toBe(2)
  })

  it('past cache.maxObjectBytes it is relayed whole to the clients already reading it, never stored', async () => {
    const rest = gate()
    const size = 3 * MB
    const origin = opened(await startOrigin(unsized(size, 512 * 1024, rest)))
    const proxy = opened(await startProxy(origin.url, { cache: { maxObjectBytes: MB } }))
    const clients = await Promise.all(Array.from({ length: 5 }, async () => await client(proxy, '/huge.bin')))
    for (const c of clients) expect(await c.received(512 * 1024)).toBeGreaterThanOrEqual(512 * 1024)
    rest.open()
    const expected = bytesOf(0, size)
    for (const c of clients) {
      const got = await c.done
      expect('body' in got && got.body.equals(expected)).toBe(true)
    }
    expect(origin.count).toBe(1)
    // Remembered as too large but shareable (the too-large rule): the next wave shares one new fetch, never a hit.
    origin.setHandler(unsized(size, 512 * 1024, { open () {}, opened: Promise.resolve() }))
    const wave = await Promise.all([client(proxy, '/huge.bin'), client(proxy, '/huge.bin')])
    for (const c of wave) {
      // A stored hit would carry ttl=: these are the fetch's leader and (if it came in time) a waiter of that fetch.
      expect(String(c.headers['cache-status'])).not.toContain('ttl=')
      const got = await c.done
      expect('body' in got && got.body.equals(expected)).toBe(true)
    }
    expect(origin.count).toBe(2)
  })

  it('past cache.maxObjectBytes a client that stops reading is cut off a window behind; the others get every byte', async () => {
    const size = 24 * MB
    const whole = bytesOf(0, size)
    // Without a Content-Length, written as fast as the proxy takes it (backpressure honoured).
    const origin = opened(await startOrigin(async (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream' })
      for (let at = 0; at < size; at += 256 * 1024) {
        if (res.destroyed) return
        if (!res.write(whole.subarray(at, at + 256 * 1024))) await once(res, 'drain')
      }
      res.end()
    }))
    const proxy = opened(await startProxy(origin.url, { cache: { maxObjectBytes: MB } }))
    origin.hold()
    // A raw client that sends its request and never reads: the kernel's buffers fill, then it falls behind.
    const stuck = stalledReader(proxy.url, '/relay.bin')
    sockets.push(stuck.socket)
    await origin.arrived(1)
    const readers = Array.from({ length: 3 }, async () => await client(proxy, '/relay.bin'))
    await expect.poll(async () => await coalescedWaiters(proxy), { timeout: 10_000 }).toBe(3)
    origin.release()
    for (const c of await Promise.all(readers)) {
      const got = await c.done
      expect('body' in got && got.body.equals(whole)).toBe(true)
    }
    stuck.socket.resume()
    await stuck.closed
    // What the kernel held for it, then the connection's end: far short of the object.
    expect(stuck.received()).toBeLessThan(size / 2)
    // Cut off for falling a window behind the others, not for stalling: the others were never held back by it.
    expect(proxy.logs.filter(l => l['code'] === 'CORRAL_ERR_CLIENT_BEHIND')).toHaveLength(1)
    expect(origin.count).toBe(1)
  }, 30_000)

  it('a small one (under 64 KiB) keeps the old road: read whole, stored, answered with its length', async () => {
    const origin = opened(await startOrigin(unsized(20_000, 20_000, { open () {}, opened: Promise.resolve() })))
    const proxy = opened(await startProxy(origin.url))
    const first = await client(proxy, '/small.bin')
    expect(first.headers['cache-status']).toBe('corral; fwd=uri-miss; stored')
    expect(first.headers['content-length']).toBe('20000')
    const got = await first.done
    expect('body' in got && got.body.equals(bytesOf(0, 20_000))).toBe(true)
  })
})
