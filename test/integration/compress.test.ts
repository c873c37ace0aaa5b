/**
 * Issue 24: compress once at fill time, serve every client its coding. Real sockets, a real origin, node:zlib decoding
 * what arrives (compress-clients.test.ts: memcached, curl and headless Chromium).
 */
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin, type OriginHandler, type TestOrigin } from '../helpers/origin.js'
import { startProxy, TestClock, type TestProxy } from '../helpers/proxy.js'
import { decoded, fetchRaw, page, PAGE } from '../helpers/compressed.js'
import { storedHit } from '../helpers/stored-hit.js'

const { opened } = closeAfterEach()

async function start (handler: OriginHandler, cache: Record<string, unknown> = {}): Promise<{ origin: TestOrigin, proxy: TestProxy }> {
  const origin = opened(await startOrigin(handler))
  const proxy = opened(await startProxy(origin.url, { cache }))
  return { origin, proxy }
}

describe('one fill serves br, gzip and identity', () => {
  it('each client gets its coding, decoding to the origin\'s bytes, from one origin request', async () => {
    const { origin, proxy } = await start(page())
    const first = await fetchRaw(`${proxy.url}/p`, { 'accept-encoding': 'gzip, deflate, br' })
    expect(first.headers['x-cache']).toBe('MISS')
    expect(first.headers['content-encoding']).toBe('br')
    const br = await storedHit(`${proxy.url}/p`, { 'accept-encoding': 'gzip, deflate, br' })
    const gzip = await fetchRaw(`${proxy.url}/p`, { 'accept-encoding': 'gzip' })
    const identity = await fetchRaw(`${proxy.url}/p`)
    for (const r of [first, br, gzip, identity]) {
      expect(r.status).toBe(200)
      expect(decoded(r).equals(PAGE)).toBe(true)
      // The first answer is coded while the page arrives (issue 22: stream while filling): its length is not known
      // before it ends, so it is chunked; answers from the stored entry carry their coding's Content-Length.
      expect(r.headers['content-length']).toBe(r === first ? undefined : String(r.body.length))
      expect(r.headers.vary).toMatch(/accept-encoding/i)
    }
    expect([br.headers['x-cache'], gzip.headers['x-cache'], identity.headers['x-cache']]).toEqual(['HIT', 'HIT', 'HIT'])
    expect(br.headers['content-encoding']).toBe('br')
    expect(gzip.headers['content-encoding']).toBe('gzip')
    expect(identity.headers['content-encoding']).toBeUndefined()
    // The project's targets for a 100 KiB HTML page (README, Compression).
    expect(br.body.length).toBeLessThanOrEqual(0.18 * PAGE.length)
    expect(gzip.body.length).toBeLessThanOrEqual(0.25 * PAGE.length)
    expect(origin.count).toBe(1)
  })

  it('identity;q=0 and gzip;q=0 are honoured', async () => {
    const { proxy } = await start(page())
    await fetchRaw(`${proxy.url}/q`)
    expect((await fetchRaw(`${proxy.url}/q`, { 'accept-encoding': 'identity;q=0, gzip' })).headers['content-encoding']).toBe('gzip')
    const noGzip = await fetchRaw(`${proxy.url}/q`, { 'accept-encoding': 'gzip;q=0' })
    expect(noGzip.headers['content-encoding']).toBeUndefined()
    expect(noGzip.body.equals(PAGE)).toBe(true)
    expect((await fetchRaw(`${proxy.url}/q`, { 'accept-encoding': 'gzip;q=0, br' })).headers['content-encoding']).toBe('br')
    expect((await fetchRaw(`${proxy.url}/q`, { 'accept-encoding': 'br;q=0.2, gzip;q=0.8' })).headers['content-encoding']).toBe('gzip')
  })

  it('HEAD gets the chosen coding\'s headers and no body', async () => {
    const { proxy } = await start(page())
    // From the stored entry: until its write lands, the fill's stream (br made on the fly, chunked) answers instead.
    const get = await storedHit(`${proxy.url}/h`, { 'accept-encoding': 'br' })
    expect(get.headers['x-cache']).toBe('HIT')
    const head = await fetchRaw(`${proxy.url}/h`, { 'accept-encoding': 'br' }, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.body.length).toBe(0)
    expect(head.headers['content-encoding']).toBe('br')
    expect(head.headers['content-length']).toBe(String(get.body.length))
    const plain = await fetchRaw(`${proxy.url}/h`, {}, 'HEAD')
    expect(plain.headers['content-length']).toBe(String(PAGE.length))
  })

  it('small pages, images and no-transform answers are served as the origin sent them', async () => {
    const { proxy } = await start((req, res) => {
      const headers: Record<string, string> = { 'cache-control': 'max-age=60', 'content-type': req.url === '/img' ? 'image/png' : 'text/html' }
      if (req.url === '/nt') headers['cache-control'] = 'max-age=60, no-transform'
      res.writeHead(200, headers)
      res.end(req.url === '/small' ? PAGE.subarray(0, 1000) : PAGE)
    })
    for (const path of ['/small', '/img', '/nt']) {
      await fetchRaw(`${proxy.url}${path}`, { 'accept-encoding': 'br, gzip' })
      const hit = await fetchRaw(`${proxy.url}${path}`, { 'accept-encoding': 'br, gzip' })
      expect(hit.headers['x-cache']).toBe('HIT')
      expect(hit.headers['content-encoding']).toBeUndefined()
      expect(hit.headers.vary).toBeUndefined()
    }
  })

  it('the access line names the coding sent, and /metrics counts bytes in and out per coding', async () => {
    const { proxy } = await start(page())
    await fetchRaw(`${proxy.url}/m`)
    // The first client's answer ends with the origin's body, and the fill codes br after that (fill-compress.ts): the
    // answer from the stored entry comes once both codings are made and counted.
    const hit = await storedHit(`${proxy.url}/m`, { 'accept-encoding': 'gzip' })
    expect(hit.headers['cache-status']).toMatch(/; hit; ttl=/)
    const line = proxy.logs.filter((l) => l['msg'] === 'access').at(-1)
    expect(line?.['encoding']).toBe('gzip')
    const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text()
    const out = /corral_compress_output_bytes_total\{encoding="br",op="encode"\} (\d+)/.exec(metrics)
    const input = /corral_compress_input_bytes_total\{encoding="br",op="encode"\} (\d+)/.exec(metrics)
    expect(Number(input?.[1])).toBe(PAGE.length)
    expect(Number(out?.[1])).toBeGreaterThan(0)
    expect(Number(out?.[1])).toBeLessThan(0.18 * PAGE.length)
    expect(metrics).toMatch(/corral_compress_seconds_total\{encoding="gzip",op="encode"\} [\d.e-]+/)
  })

  it('is off with cache.compress.enabled false: one body for all, as before', async () => {
    const { proxy } = await start(page(), { compress: { enabled: false } })
    await fetchRaw(`${proxy.url}/off`)
    const hit = await fetchRaw(`${proxy.url}/off`, { 'accept-encoding': 'br' })
    expect(hit.headers['content-encoding']).toBeUndefined()
    expect(hit.body.equals(PAGE)).toBe(true)
  })
})

describe('conditional requests and Range across codings', () => {
  it('RFC 9110 §13.1.2: a 304 only for the tag of the coding the client would get', async () => {
    const { proxy } = await start(page())
    await storedHit(`${proxy.url}/c`)
    const gzip = await fetchRaw(`${proxy.url}/c`, { 'accept-encoding': 'gzip' })
    const br = await fetchRaw(`${proxy.url}/c`, { 'accept-encoding': 'br' })
    const identity = await fetchRaw(`${proxy.url}/c`)
    expect(gzip.headers.etag).toBe('W/"v1-gzip"')
    expect(br.headers.etag).toBe('W/"v1-br"')
    expect(identity.headers.etag).toBe('"v1"')
    const again = await fetchRaw(`${proxy.url}/c`, { 'accept-encoding': 'gzip', 'if-none-match': 'W/"v1-gzip"' })
    expect(again.status).toBe(304)
    expect(again.headers.etag).toBe('W/"v1-gzip"')
    expect(again.headers.vary).toMatch(/accept-encoding/i)
    // The same tag from a client now accepting br: its gzip copy is not the br representation.
    const switched = await fetchRaw(`${proxy.url}/c`, { 'accept-encoding': 'br', 'if-none-match': 'W/"v1-gzip"' })
    expect(switched.status).toBe(200)
    expect(switched.headers['content-encoding']).toBe('br')
    expect(brotliDecompressSync(switched.body).equals(PAGE)).toBe(true)
    expect((await fetchRaw(`${proxy.url}/c`, { 'if-none-match': '"v1"' })).status).toBe(304)
    expect((await fetchRaw(`${proxy.url}/c`, { 'accept-encoding': 'br', 'if-none-match': '"v1"' })).status).toBe(200)
  })

  it('RFC 9110 §14: a Range is answered on the identity bytes whatever the client accepts', async () => {
    const { origin, proxy } = await start(page())
    await storedHit(`${proxy.url}/r`)
    const r = await fetchRaw(`${proxy.url}/r`, { 'accept-encoding': 'br, gzip', range: 'bytes=100-199' })
    expect(r.status).toBe(206)
    expect(r.headers['content-encoding']).toBeUndefined()
    expect(r.headers['content-range']).toBe(`bytes 100-199/${PAGE.length}`)
    expect(r.body.equals(PAGE.subarray(100, 200))).toBe(true)
    // If-Range with the identity tag applies; with a coded one (weak) it never does: the whole page, in br.
    expect((await fetchRaw(`${proxy.url}/r`, { 'accept-encoding': 'br', range: 'bytes=0-9', 'if-range': '"v1"' })).status).toBe(206)
    const coded = await fetchRaw(`${proxy.url}/r`, { 'accept-encoding': 'br', range: 'bytes=0-9', 'if-range': 'W/"v1-br"' })
    expect(coded.status).toBe(200)
    expect(coded.headers['content-encoding']).toBe('br')
    expect(brotliDecompressSync(coded.body).equals(PAGE)).toBe(true)
    // Ranges corral answers whole (disjoint) are whole in the client's coding, never a range of coded bytes.
    const disjoint = await fetchRaw(`${proxy.url}/r`, { 'accept-encoding': 'br', range: 'bytes=0-9,50000-50009' })
    expect(disjoint.status).toBe(200)
    expect(brotliDecompressSync(disjoint.body).equals(PAGE)).toBe(true)
    expect(origin.count).toBe(1)
  })
})

describe('stale and revalidated entries keep their codings', () => {
  it('a stale br answer while refreshing, then a 304 from the origin refreshes every coding without compressing again', async () => {
    const clock = new TestClock()
    const origin = opened(await startOrigin((req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' })
        res.end()
        return
      }
      return page()(req, res, 0)
    }))
    const proxy = opened(await startProxy(origin.url, { cache: { graceSeconds: 30 } }, { clock }))
    await storedHit(`${proxy.url}/s`)
    clock.advance(61_000)
    const stale = await fetchRaw(`${proxy.url}/s`, { 'accept-encoding': 'br' })
    expect(stale.headers['x-cache']).toBe('STALE')
    expect(stale.headers['content-encoding']).toBe('br')
    expect(brotliDecompressSync(stale.body).equals(PAGE)).toBe(true)
    await origin.arrived(2)
    expect(origin.requests[1]?.headers['if-none-match']).toBe('"v1"')
    // The refresh lands in the background; the next requests find the refreshed entry.
    let hit = await fetchRaw(`${proxy.url}/s`, { 'accept-encoding': 'gzip' })
    for (let i = 0; i < 50 && hit.headers['x-cache'] !== 'HIT'; i++) hit = await fetchRaw(`${proxy.url}/s`, { 'accept-encoding': 'gzip' })
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['content-encoding']).toBe('gzip')
    expect(hit.headers.etag).toBe('W/"v1-gzip"')
    expect(gunzipSync(hit.body).equals(PAGE)).toBe(true)
    const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text()
    expect(metrics).toMatch(/corral_compress_input_bytes_total\{encoding="gzip",op="encode"\} 102400\n/)
    expect(origin.count).toBe(2)
  })
})

describe('an origin that compresses', () => {
  const GZIPPED = gzipSync(PAGE)

  it('is stored once: its gzip sent as it came, decoded for identity clients, br made from the identity', async () => {
    const { origin, proxy } = await start(page({ 'content-encoding': 'gzip', vary: 'Accept-Encoding' }, GZIPPED))
    const first = await fetchRaw(`${proxy.url}/g`, { 'accept-encoding': 'gzip' })
    expect(first.headers['content-encoding']).toBe('gzip')
    expect(first.body.equals(GZIPPED)).toBe(true)
    const identity = await fetchRaw(`${proxy.url}/g`)
    expect(identity.headers['x-cache']).toBe('HIT')
    expect(identity.headers['content-encoding']).toBeUndefined()
    expect(identity.body.equals(PAGE)).toBe(true)
    const br = await fetchRaw(`${proxy.url}/g`, { 'accept-encoding': 'br' })
    expect(br.headers['x-cache']).toBe('HIT')
    expect(brotliDecompressSync(br.body).equals(PAGE)).toBe(true)
    // The origin's Vary: Accept-Encoding no longer makes one copy per browser family: corral negotiates itself.
    expect(origin.count).toBe(1)
  })

  it('a corrupt coded body is never stored: 502 with its own code, and the next request asks the origin again', async () => {
    const damaged = Buffer.from(GZIPPED)
    damaged.fill(0x41, 40, 400)
    const { origin, proxy } = await start(page({ 'content-encoding': 'gzip' }, damaged))
    const r = await fetchRaw(`${proxy.url}/bad`)
    expect(r.status).toBe(502)
    const again = await fetchRaw(`${proxy.url}/bad`, { 'accept-encoding': 'gzip' })
    expect(again.status).toBe(502)
    expect(origin.count).toBe(2)
    const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text()
    expect(metrics).toMatch(/corral_origin_errors_total\{code="CORRAL_ERR_ORIGIN_ENCODING"\} 2/)
  })

  it('with compression off, an origin Vary: Accept-Encoding keys variants as before', async () => {
    const { origin, proxy } = await start((req, res) => {
      const gz = /gzip/.test(String(req.headers['accept-encoding']))
      res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=60', vary: 'Accept-Encoding', ...(gz ? { 'content-encoding': 'gzip' } : {}) })
      res.end(gz ? GZIPPED : PAGE)
    }, { compress: { enabled: false } })
    await fetchRaw(`${proxy.url}/v`, { 'accept-encoding': 'gzip' })
    await fetchRaw(`${proxy.url}/v`)
    const gz = await fetchRaw(`${proxy.url}/v`, { 'accept-encoding': 'gzip' })
    const plain = await fetchRaw(`${proxy.url}/v`)
    expect(gz.headers['x-cache']).toBe('HIT')
    expect(gz.body.equals(GZIPPED)).toBe(true)
    expect(plain.headers['x-cache']).toBe('HIT')
    expect(plain.body.equals(PAGE)).toBe(true)
    expect(origin.count).toBe(2)
  })
})
