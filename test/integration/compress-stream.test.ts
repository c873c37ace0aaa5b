/**
 * Issue 22, item 3 for pages corral compresses: a compressible answer streams to its leader and every waiter while it
 * arrives, each in the coding a hit would give it (made on the fly, one compressor per coding), and is stored coded
 * once whole. The origin sends the first half of a 256 KiB HTML page and holds the rest on a gate the test opens:
 * every client has decodable bytes of that half before the gate opens.
 */
import { randomBytes } from 'node:crypto'
import { brotliDecompressSync, constants, gunzipSync } from 'node:zlib'
import { describe, expect, inject, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin, type OriginHandler, type TestOrigin } from '../helpers/origin.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { decoded, fetchRaw } from '../helpers/compressed.js'
import { storedHit } from '../helpers/stored-hit.js'
import { streamingClient as client, type StreamingClient as Client } from '../helpers/streaming-client.js'
import { makePage } from '../../bench/page.js'
import { MemcachedStore } from '../../src/store/memcached.js'

const { opened } = closeAfterEach()
const memcached = inject('memcached')
const PAGE = makePage(256 * 1024)
const HALF = PAGE.length / 2

interface Gate { open: () => void, opened: Promise<void> }
function gate (): Gate {
  let open = (): void => {}
  const opened = new Promise<void>((resolve) => { open = resolve })
  return { open, opened }
}

/** HTML with ETag "v1": HALF bytes, then the rest once `rest` opens (or, with `die`, a destroyed connection). */
function heldPage (rest: Gate, die = false, sized = true, extra: Record<string, string> = {}, page = PAGE): OriginHandler {
  return async (_req, res) => {
    const length: Record<string, string> = sized ? { 'content-length': String(page.length) } : {}
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'max-age=600', etag: '"v1"', ...length, ...extra })
    res.write(page.subarray(0, HALF))
    await rest.opened
    if (die) res.socket?.destroy()
    else res.end(page.subarray(HALF))
  }
}

/** What a decoder makes of a coded body cut anywhere after a flush (a truncated stream, read as far as it goes). */
function decodeSoFar (coding: string, bytes: Buffer): Buffer {
  if (bytes.length === 0) return bytes
  try {
    return coding === 'gzip'
      ? gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH })
      : brotliDecompressSync(bytes, { finishFlush: constants.BROTLI_OPERATION_FLUSH })
  } catch {
    return Buffer.alloc(0)
  }
}

function hasFirstHalf (coding: string | null): (bytes: Buffer) => boolean {
  return (bytes) => (coding === null ? bytes : decodeSoFar(coding, bytes)).length >= HALF
}

async function start (handler: OriginHandler): Promise<{ origin: TestOrigin, proxy: TestProxy }> {
  const origin = opened(await startOrigin(handler))
  const proxy = opened(await startProxy(origin.url))
  return { origin, proxy }
}

describe('issue 22: a compressible page streams while filling, in each client\'s coding', () => {
  it('leader and waiters have their first half before the origin ends; gzip, br and identity decode to the origin\'s bytes', async () => {
    const rest = gate()
    const { origin, proxy } = await start(heldPage(rest))
    const url = `${proxy.url}/long.html`
    const leader = await client(url, { 'accept-encoding': 'gzip' })
    const brWaiter = await client(url, { 'accept-encoding': 'gzip, deflate, br' })
    const plainWaiter = await client(url)
    const gzipWaiter = await client(url, { 'accept-encoding': 'gzip' })
    const clients: Array<[Client, string | null]> = [[leader, 'gzip'], [brWaiter, 'br'], [plainWaiter, null], [gzipWaiter, 'gzip']]
    // The origin has sent half and holds the rest: whatever each client can decode came through while it filled.
    for (const [c, coding] of clients) {
      const sofar = await c.until(hasFirstHalf(coding))
      const text = coding === null ? sofar : decodeSoFar(coding, sofar)
      expect(text.length).toBeGreaterThanOrEqual(HALF)
      expect(text.equals(PAGE.subarray(0, text.length))).toBe(true)
    }
    expect(origin.count).toBe(1)
    rest.open()
    for (const [c, coding] of clients) {
      const done = await c.done
      if (!('body' in done)) throw done.error
      expect(c.status).toBe(200)
      expect(c.headers['content-encoding']).toBe(coding ?? undefined)
      expect(String(c.headers.vary)).toMatch(/accept-encoding/i)
      const body = coding === 'gzip' ? gunzipSync(done.body) : coding === 'br' ? brotliDecompressSync(done.body) : done.body
      expect(body.equals(PAGE)).toBe(true)
      // A coded body's length is not known before it ends: chunked; identity keeps the origin's Content-Length.
      expect(c.headers['content-length']).toBe(coding === null ? String(PAGE.length) : undefined)
      expect(c.headers.etag).toBe(coding === null ? '"v1"' : `W/"v1-${coding}"`)
      // Smaller on the wire, as the stored codings are.
      if (coding !== null) expect(done.body.length).toBeLessThan(0.3 * PAGE.length)
    }
    expect(leader.headers['cache-status']).toBe('corral; fwd=uri-miss; detail=streamed')
    expect(brWaiter.headers['cache-status']).toBe('corral; hit; detail=collapsed-streamed')
    const access = proxy.logs.filter(l => l['msg'] === 'access' && l['url'] === '/long.html')
    expect(access.map(l => l['encoding'] ?? 'identity').sort()).toEqual(['br', 'gzip', 'gzip', 'identity'])
    // Stored coded once whole: later clients are hits with the same representations and tags the wave had.
    for (const [ae, coding] of [['gzip, deflate, br', 'br'], ['gzip', 'gzip'], ['', undefined]] as const) {
      const hit = await storedHit(url, ae === '' ? {} : { 'accept-encoding': ae })
      expect(hit.headers['cache-status']).toMatch(/^corral; hit; ttl=/)
      expect(hit.headers['content-encoding']).toBe(coding)
      expect(hit.headers.etag).toBe(coding === undefined ? '"v1"' : `W/"v1-${coding}"`)
      expect(hit.headers['content-length']).toBe(String(hit.body.length))
      expect(decoded(hit).equals(PAGE)).toBe(true)
    }
    expect(origin.count).toBe(1)
  })

  it('without a Content-Length too: chunked from the origin, coded on the fly, stored coded', async () => {
    const rest = gate()
    const { origin, proxy } = await start(heldPage(rest, false, false))
    const url = `${proxy.url}/unsized.html`
    const br = await client(url, { 'accept-encoding': 'br' })
    const plain = await client(url)
    await br.until(hasFirstHalf('br'))
    await plain.until(hasFirstHalf(null))
    rest.open()
    const [brDone, plainDone] = [await br.done, await plain.done]
    expect('body' in brDone && brotliDecompressSync(brDone.body).equals(PAGE)).toBe(true)
    expect('body' in plainDone && plainDone.body.equals(PAGE)).toBe(true)
    const hit = await storedHit(url, { 'accept-encoding': 'br' })
    expect(hit.headers['cache-status']).toMatch(/^corral; hit; ttl=/)
    expect(hit.headers['content-encoding']).toBe('br')
    expect(hit.headers['content-length']).toBe(String(hit.body.length))
    expect(brotliDecompressSync(hit.body).equals(PAGE)).toBe(true)
    expect(origin.count).toBe(1)
  })

  it('an origin that dies mid-body fails every client of the fetch, coded or not, and stores nothing', async () => {
    const rest = gate()
    const { origin, proxy } = await start(heldPage(rest, true))
    const url = `${proxy.url}/broken.html`
    const gzip = await client(url, { 'accept-encoding': 'gzip' })
    const plain = await client(url)
    await gzip.until(hasFirstHalf('gzip'))
    await plain.until(hasFirstHalf(null))
    rest.open()
    for (const c of [gzip, plain]) {
      // A reset before the end (no last chunk, or short of Content-Length), never a body that ends as if whole.
      expect('error' in await c.done).toBe(true)
    }
    origin.setHandler(heldPage({ open () {}, opened: Promise.resolve() }))
    const again = await fetchRaw(url, { 'accept-encoding': 'gzip' })
    expect(again.headers['x-cache']).toBe('MISS')
    expect(gunzipSync(again.body).equals(PAGE)).toBe(true)
    expect(origin.count).toBe(2)
  })

  it('a body not whole within origin.fillBodyTimeoutMs fails every client of the fetch, coded or not, and stores nothing', async () => {
    const origin = opened(await startOrigin((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', 'content-length': String(PAGE.length) })
      res.write(PAGE.subarray(0, HALF))
      // Then one byte well inside every gap timeout, for ever: only the fill's own deadline ends it.
      let at = HALF
      const drip = setInterval(() => res.write(PAGE.subarray(at, ++at)), 50)
      res.on('close', () => clearInterval(drip))
    }))
    const proxy = opened(await startProxy(origin.url, { origin: { url: origin.url, timeoutMs: 300, fillBodyTimeoutMs: 800 } }))
    const url = `${proxy.url}/trickle.html`
    const gzip = await client(url, { 'accept-encoding': 'gzip' })
    const plain = await client(url)
    await gzip.until(hasFirstHalf('gzip'))
    for (const c of [gzip, plain]) expect('error' in await c.done).toBe(true)
    expect(origin.count).toBe(1)
    origin.setHandler(heldPage({ open () {}, opened: Promise.resolve() }))
    const again = await fetchRaw(url, { 'accept-encoding': 'gzip' })
    expect(again.headers['x-cache']).toBe('MISS')
    expect(gunzipSync(again.body).equals(PAGE)).toBe(true)
    expect(origin.count).toBe(2)
  })

  it('a Range on the streaming page is answered on the identity bytes, and If-None-Match with the coded tag is a 304', async () => {
    const rest = gate()
    const { proxy } = await start(heldPage(rest))
    const url = `${proxy.url}/ranged.html`
    const leader = await client(url, { 'accept-encoding': 'gzip' })
    await leader.until(hasFirstHalf('gzip'))
    const ranged = await fetchRaw(url, { 'accept-encoding': 'gzip', range: 'bytes=100-199' })
    expect(ranged.status).toBe(206)
    expect(ranged.headers['content-encoding']).toBeUndefined()
    expect(ranged.body.equals(PAGE.subarray(100, 200))).toBe(true)
    const notModified = await fetchRaw(url, { 'accept-encoding': 'gzip', 'if-none-match': 'W/"v1-gzip"' })
    expect(notModified.status).toBe(304)
    rest.open()
    expect('body' in await leader.done).toBe(true)
  })
})

describe('the stored entry is keyed as a page compressed after its whole body', () => {
  it('by the origin\'s Vary without Accept-Encoding: one copy serves every coding, another language is another fill', async () => {
    const rest = gate()
    const { origin, proxy } = await start(heldPage(rest, false, true, { vary: 'Accept-Encoding, Accept-Language' }))
    const url = `${proxy.url}/lang.html`
    const leader = await client(url, { 'accept-encoding': 'gzip', 'accept-language': 'en' })
    await leader.until(hasFirstHalf('gzip'))
    rest.open()
    expect('body' in await leader.done).toBe(true)
    expect(String(leader.headers.vary)).toMatch(/accept-language/i)
    const identity = await storedHit(url, { 'accept-language': 'en' })
    expect(identity.headers['cache-status']).toMatch(/^corral; hit; ttl=/)
    expect(identity.body.equals(PAGE)).toBe(true)
    expect(identity.headers.vary).toMatch(/accept-encoding/i)
    expect(origin.count).toBe(1)
    const french = await fetchRaw(url, { 'accept-encoding': 'gzip', 'accept-language': 'fr' })
    expect(french.headers['x-cache']).toBe('MISS')
    expect(origin.count).toBe(2)
  })

  it('streamed as compressible, stored as it came when no coding shrinks it: keyed by Accept-Encoding as the origin said', async () => {
    const noise = Buffer.alloc(PAGE.length)
    for (let i = 0, x = 11; i < noise.length; i++) noise[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24
    const rest = gate()
    const { origin, proxy } = await start(heldPage(rest, false, false, { vary: 'Accept-Encoding', 'content-type': 'text/plain' }, noise))
    const url = `${proxy.url}/noise.txt`
    const leader = await client(url, { 'accept-encoding': 'gzip' })
    await leader.until(hasFirstHalf('gzip'))
    rest.open()
    const done = await leader.done
    expect('body' in done && gunzipSync(done.body).equals(noise)).toBe(true)
    const hit = await storedHit(url, { 'accept-encoding': 'gzip' })
    expect(hit.headers['cache-status']).toMatch(/^corral; hit; ttl=/)
    expect(hit.headers['content-encoding']).toBeUndefined()
    expect(hit.body.equals(noise)).toBe(true)
    expect(origin.count).toBe(1)
    // Another Accept-Encoding is another variant of an entry corral does not negotiate itself.
    expect((await fetchRaw(url)).headers['x-cache']).toBe('MISS')
    expect(origin.count).toBe(2)
  })
})

describe.skipIf(memcached === null)('across a fleet', () => {
  it('a follower on another proxy waits for the stored coded entry (nothing identity-only is published); one origin fetch', async () => {
    const rest = gate()
    const origin = opened(await startOrigin(heldPage(rest, false, true, { vary: 'Accept-Encoding' })))
    const prefix = `cs${randomBytes(3).toString('hex')}:`
    const config = {
      origin: { url: origin.url, timeoutMs: 5000, retries: 0 },
      cache: { memory: { maxTtlSeconds: 1 }, memcached: { servers: [memcached as string], prefix, timeoutMs: 1000, retryDownMs: 60_000, leaseTtlMs: 5000 } }
    }
    const a = opened(await startProxy(origin.url, config))
    const b = opened(await startProxy(origin.url, config))
    const leader = await client(`${a.url}/fleet.html`, { host: 'site.test', 'accept-encoding': 'br' })
    await leader.until(hasFirstHalf('br'))
    const following = fetchRaw(`${b.url}/fleet.html`, { host: 'site.test', 'accept-encoding': 'gzip' })
    rest.open()
    const follower = await following
    expect(follower.headers['content-encoding']).toBe('gzip')
    expect(follower.headers['content-length']).toBe(String(follower.body.length))
    expect(gunzipSync(follower.body).equals(PAGE)).toBe(true)
    const done = await leader.done
    expect('body' in done && brotliDecompressSync(done.body).equals(PAGE)).toBe(true)
    expect(origin.count).toBe(1)
    // Vary named Accept-Encoding only: corral negotiates it, so the entry sits at the primary key with no Vary index.
    const store = opened(new MemcachedStore({ servers: [memcached as string], prefix, timeoutMs: 1000, retryDownMs: 60_000, maxItemBytes: 1024 * 1024 }))
    const stored = await store.get('site.test/fleet.html')
    expect(stored?.kind).toBe('entry')
    expect(stored?.kind === 'entry' && stored.encoded?.map((c) => c.coding)).toEqual(['br', 'gzip'])
  })
})
