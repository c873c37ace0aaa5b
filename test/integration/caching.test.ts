/** Issue 2: HTTP caching through real sockets: a counting origin, a corral proxy, a settable clock. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, TestClock, type TestProxy } from '../helpers/proxy.js'

let origin: TestOrigin
let proxy: TestProxy
let clock: TestClock

beforeEach(async () => {
  clock = new TestClock()
  origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, 'page'))
})

afterEach(async () => {
  await proxy?.close()
  await origin.close()
})

async function start (overrides: Record<string, unknown> = {}): Promise<void> {
  proxy = await startProxy(origin.url, overrides, { clock })
}

describe('freshness', () => {
  it('serves a fresh entry from cache with Age, X-Cache and Cache-Status', async () => {
    await start()
    const first = await get(`${proxy.url}/a`)
    expect(first.headers['x-cache']).toBe('MISS')
    expect(first.headers['cache-status']).toBe('corral; fwd=uri-miss; stored')
    clock.advance(5000)
    const second = await get(`${proxy.url}/a`)
    expect(second.headers['x-cache']).toBe('HIT')
    expect(second.headers.age).toBe('5')
    expect(second.headers['cache-status']).toBe('corral; hit; ttl=55')
    expect(second.body).toBe('page')
    expect(origin.count).toBe(1)
  })

  it('adds the Age the origin reported to the time spent in cache', async () => {
    origin.setHandler(answer(200, { 'cache-control': 'max-age=60', age: '10' }, 'aged'))
    await start()
    await get(`${proxy.url}/aged`)
    clock.advance(3000)
    const hit = await get(`${proxy.url}/aged`)
    expect(hit.headers.age).toBe('13')
    expect(hit.headers['cache-status']).toBe('corral; hit; ttl=47')
  })

  it('prefers s-maxage over max-age, and max-age over Expires', async () => {
    origin.setHandler((req, res) => {
      res.writeHead(200, req.url === '/s'
        ? { 'cache-control': 'max-age=100, s-maxage=5' }
        : { 'cache-control': 'max-age=5', expires: new Date(clock.now() + 100_000).toUTCString() })
      res.end(req.url)
    })
    await start({ cache: { graceSeconds: 0 } })
    await get(`${proxy.url}/s`)
    await get(`${proxy.url}/m`)
    clock.advance(6000)
    expect((await get(`${proxy.url}/s`)).headers['x-cache']).toBe('MISS')
    expect((await get(`${proxy.url}/m`)).headers['x-cache']).toBe('MISS')
    expect(origin.count).toBe(4)
  })

  it('keys by host, path and normalised query; tracking parameters do not split entries', async () => {
    await start()
    await get(`${proxy.url}/q?b=2&a=1&utm_source=x`)
    const hit = await get(`${proxy.url}/q?a=1&b=2`)
    expect(hit.headers['x-cache']).toBe('HIT')
    const otherHost = await get(`${proxy.url}/q?a=1&b=2`, { host: 'other.example' })
    expect(otherHost.headers['x-cache']).toBe('MISS')
    // The origin is asked for exactly what the key names: a dropped parameter cannot end up in a cached page.
    expect(origin.requests[0]?.url).toBe('/q?a=1&b=2')
  })

  it('asks the origin for the host as the key spells it, whatever spelling filled the entry', async () => {
    origin.setHandler((req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end(`for ${req.headers.host ?? ''}`)
    })
    await start()
    const miss = await get(`${proxy.url}/host`, { host: 'WWW.Example.COM.:80' })
    expect(miss.headers['x-cache']).toBe('MISS')
    expect(miss.body).toBe('for www.example.com')
    expect(origin.requests[0]?.headers.host).toBe('www.example.com')
    expect(origin.requests[0]?.headers['x-forwarded-host']).toBe('www.example.com')
    const hit = await get(`${proxy.url}/host`, { host: 'www.example.com' })
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.body).toBe('for www.example.com')
    expect(origin.count).toBe(1)
  })

  it('does not use heuristic freshness by default: a response without cache headers is never served without asking the origin', async () => {
    origin.setHandler(answer(200, { 'last-modified': new Date(clock.now() - 86_400_000).toUTCString() }, 'x'))
    await start()
    expect((await get(`${proxy.url}/h`)).headers['x-cache']).toBe('MISS')
    expect((await get(`${proxy.url}/h`)).headers['x-cache']).not.toBe('HIT')
    expect(origin.count).toBe(2)
  })

  it('uses heuristic freshness when configured', async () => {
    origin.setHandler(answer(200, { date: new Date(clock.now()).toUTCString(), 'last-modified': new Date(clock.now() - 100_000_000).toUTCString() }, 'x'))
    await start({ cache: { heuristicFraction: 0.1 } })
    await get(`${proxy.url}/h`)
    expect((await get(`${proxy.url}/h`)).headers['x-cache']).toBe('HIT')
  })
})

describe('what is never stored', () => {
  it.each([
    ['no-store', { 'cache-control': 'no-store' }],
    ['private', { 'cache-control': 'private, max-age=60' }],
    ['set-cookie', { 'cache-control': 'max-age=60', 'set-cookie': 'session=alice' }]
  ])('%s responses are never served from cache', async (_name, headers) => {
    origin.setHandler(answer(200, headers, (n) => `user-${n}`))
    await start()
    const a = await get(`${proxy.url}/me`)
    const b = await get(`${proxy.url}/me`)
    expect(a.body).toBe('user-1')
    expect(b.body).toBe('user-2')
    expect([a.headers['x-cache'], b.headers['x-cache']]).not.toContain('HIT')
    expect(origin.count).toBe(2)
  })

  it('requests with Authorization bypass the cache entirely', async () => {
    await start()
    await get(`${proxy.url}/a`)
    const authed = await get(`${proxy.url}/a`, { authorization: 'Bearer alice' })
    expect(authed.headers['x-cache']).toBe('PASS')
    expect(origin.count).toBe(2)
  })

  it('remembers an uncacheable URL and passes it straight through (hit-for-pass)', async () => {
    origin.setHandler(answer(200, { 'cache-control': 'no-store' }, 'x'))
    await start()
    expect((await get(`${proxy.url}/n`)).headers['x-cache']).toBe('MISS')
    const second = await get(`${proxy.url}/n`)
    expect(second.headers['x-cache']).toBe('PASS')
    expect(second.headers['cache-status']).toContain('hit-for-pass')
  })

  it('streams responses larger than cache.maxObjectBytes without storing them', async () => {
    const big = 'x'.repeat(50_000)
    origin.setHandler((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
      res.write(big.slice(0, 25_000))
      res.end(big.slice(25_000))
    })
    await start({ cache: { maxObjectBytes: 10_000 } })
    const a = await get(`${proxy.url}/big`)
    expect(a.body).toBe(big)
    expect(a.headers['x-cache']).toBe('MISS')
    expect(a.headers['cache-status']).toContain('too-large')
    const b = await get(`${proxy.url}/big`)
    expect(b.body.length).toBe(big.length)
    expect(b.headers['x-cache']).toBe('PASS')
    expect(origin.count).toBe(2)
  })
})

describe('Vary', () => {
  it('keeps variants apart and serves each its own', async () => {
    origin.setHandler((req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' })
      res.end(`lang=${req.headers['accept-language'] ?? 'none'}`)
    })
    await start()
    expect((await get(`${proxy.url}/v`, { 'accept-language': 'en' })).body).toBe('lang=en')
    expect((await get(`${proxy.url}/v`, { 'accept-language': 'fr' })).body).toBe('lang=fr')
    const en = await get(`${proxy.url}/v`, { 'accept-language': 'en' })
    const fr = await get(`${proxy.url}/v`, { 'accept-language': 'fr' })
    expect(en.body).toBe('lang=en')
    expect(en.headers['x-cache']).toBe('HIT')
    expect(fr.body).toBe('lang=fr')
    expect(fr.headers['x-cache']).toBe('HIT')
    expect(origin.count).toBe(2)
  })

  it('normalises Accept-Encoding so browser spellings share a variant, and tells the origin the same value', async () => {
    origin.setHandler((req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Encoding' })
      res.end(`ae=${req.headers['accept-encoding'] ?? ''}`)
    })
    await start()
    const a = await get(`${proxy.url}/e`, { 'accept-encoding': 'gzip, deflate, br' })
    const b = await get(`${proxy.url}/e`, { 'accept-encoding': 'br;q=1.0, gzip;q=0.8, deflate' })
    expect(a.body).toBe('ae=br, gzip, deflate')
    expect(b.headers['x-cache']).toBe('HIT')
    expect(b.body).toBe(a.body)
    expect(origin.count).toBe(1)
  })

  it('never stores Vary: *', async () => {
    origin.setHandler(answer(200, { 'cache-control': 'max-age=60', vary: '*' }, 'x'))
    await start()
    await get(`${proxy.url}/star`)
    expect((await get(`${proxy.url}/star`)).headers['x-cache']).not.toBe('HIT')
    expect(origin.count).toBe(2)
  })
})

describe('client request directives', () => {
  it.each([
    ['cache-control: no-store', { 'cache-control': 'no-store' }],
    ['cache-control: no-cache', { 'cache-control': 'no-cache' }],
    ['pragma: no-cache', { pragma: 'no-cache' }]
  ])('a miss with %s still stores the page for everyone', async (_name, headers) => {
    await start()
    const miss = await get(`${proxy.url}/client-cc`, headers)
    expect(miss.headers['x-cache']).toBe('MISS')
    expect(miss.headers['cache-status']).toBe('corral; fwd=uri-miss; stored')
    const hit = await get(`${proxy.url}/client-cc`)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.body).toBe('page')
    expect(origin.count).toBe(1)
  })

  it('a revalidation (304) made for a no-store request keeps the stored copy', async () => {
    origin.setHandler((req, res, n) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { 'cache-control': 'max-age=10', etag: '"v1"' })
        res.end()
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=10', etag: '"v1"' })
      res.end(`body-${n}`)
    })
    await start({ cache: { graceSeconds: 0 } })
    await get(`${proxy.url}/client-reval`)
    clock.advance(11_000)
    const revalidated = await get(`${proxy.url}/client-reval`, { 'cache-control': 'no-store', pragma: 'no-cache' })
    expect(revalidated.headers['x-cache']).toBe('REVALIDATED')
    expect(revalidated.headers['cache-status']).toBe('corral; fwd=stale; fwd-status=304; stored')
    expect(revalidated.body).toBe('body-1')
    clock.advance(5000)
    const hit = await get(`${proxy.url}/client-reval`)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.body).toBe('body-1')
    expect(origin.count).toBe(2)
  })
})

describe('revalidation', () => {
  it('revalidates an expired entry with its ETag; a 304 refreshes it', async () => {
    origin.setHandler((req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { 'cache-control': 'max-age=10', etag: '"v1"' })
        res.end()
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=10, must-revalidate', etag: '"v1"', 'content-type': 'text/plain' })
      res.end('body-v1')
    })
    await start()
    await get(`${proxy.url}/r`)
    clock.advance(11_000)
    const revalidated = await get(`${proxy.url}/r`)
    expect(revalidated.status).toBe(200)
    expect(revalidated.headers['x-cache']).toBe('REVALIDATED')
    expect(revalidated.headers['cache-status']).toBe('corral; fwd=stale; fwd-status=304; stored')
    expect(revalidated.body).toBe('body-v1')
    expect(revalidated.headers['content-type']).toBe('text/plain')
    expect(origin.requests[1]?.headers['if-none-match']).toBe('"v1"')
    clock.advance(5000)
    const hit = await get(`${proxy.url}/r`)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.body).toBe('body-v1')
    expect(origin.count).toBe(2)
  })

  it.each([
    ['no Via', {}, '1.1 corral'],
    ['its own Via', { via: '1.1 origin-cdn' }, '1.1 origin-cdn, 1.1 corral']
  ])('names corral in Via exactly once however often an entry is revalidated (origin with %s)', async (_name, originVia: Record<string, string>, expected) => {
    origin.setHandler((req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { 'cache-control': 'max-age=10', etag: '"v1"' })
        res.end()
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=10', etag: '"v1"', ...originVia })
      res.end('via')
    })
    await start({ cache: { graceSeconds: 0 } })
    expect((await get(`${proxy.url}/via`)).headers.via).toBe(expected)
    for (let i = 0; i < 3; i++) {
      clock.advance(11_000)
      const revalidated = await get(`${proxy.url}/via`)
      expect(revalidated.headers['x-cache']).toBe('REVALIDATED')
      expect(revalidated.headers.via).toBe(expected)
    }
    const hit = await get(`${proxy.url}/via`)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers.via).toBe(expected)
    expect(origin.count).toBe(4)
  })

  it('takes a 304\'s own Via in place of the stored one, and appends corral to it once', async () => {
    origin.setHandler((req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { 'cache-control': 'max-age=10', etag: '"v1"', via: '1.1 new-cdn' })
        res.end()
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=10', etag: '"v1"', via: '1.1 old-cdn' })
      res.end('via')
    })
    await start({ cache: { graceSeconds: 0 } })
    await get(`${proxy.url}/via304`)
    clock.advance(11_000)
    expect((await get(`${proxy.url}/via304`)).headers.via).toBe('1.1 new-cdn, 1.1 corral')
    clock.advance(11_000)
    expect((await get(`${proxy.url}/via304`)).headers.via).toBe('1.1 new-cdn, 1.1 corral')
  })

  it('revalidates by Last-Modified when there is no ETag', async () => {
    const lastModified = new Date(clock.now() - 60_000).toUTCString()
    origin.setHandler((req, res) => {
      if (req.headers['if-modified-since'] === lastModified) {
        res.writeHead(304, { 'cache-control': 'max-age=10' })
        res.end()
        return
      }
      res.writeHead(200, { 'cache-control': 'no-cache', 'last-modified': lastModified })
      res.end('lm')
    })
    await start()
    await get(`${proxy.url}/lm`)
    const second = await get(`${proxy.url}/lm`)
    expect(second.headers['x-cache']).toBe('REVALIDATED')
    expect(second.body).toBe('lm')
  })

  it('answers a client conditional request with 304 from cache', async () => {
    origin.setHandler(answer(200, { 'cache-control': 'max-age=60', etag: 'W/"abc"' }, 'x'))
    await start()
    await get(`${proxy.url}/c`)
    const conditional = await get(`${proxy.url}/c`, { 'if-none-match': '"abc"' })
    expect(conditional.status).toBe(304)
    expect(conditional.body).toBe('')
    expect(conditional.headers.etag).toBe('W/"abc"')
    expect(conditional.headers['x-cache']).toBe('HIT')
    const other = await get(`${proxy.url}/c`, { 'if-none-match': '"zzz"' })
    expect(other.status).toBe(200)
    expect(origin.count).toBe(1)
  })

  it('serves HEAD from a cached GET, without a body', async () => {
    await start()
    await get(`${proxy.url}/head`)
    const head = await get(`${proxy.url}/head`, {}, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.headers['x-cache']).toBe('HIT')
    expect(head.headers['content-length']).toBe('4')
    expect(head.body).toBe('')
    expect(origin.count).toBe(1)
  })

  it('a HEAD for a URL remembered as uncacheable reaches the origin as HEAD, and gets the headers without a body', async () => {
    origin.setHandler((_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store', 'content-type': 'text/plain', 'x-page': 'ns' })
      res.end('not for the cache')
    })
    await start()
    expect((await get(`${proxy.url}/ns`)).headers['x-cache']).toBe('MISS')
    const head = await get(`${proxy.url}/ns`, {}, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.headers['x-cache']).toBe('PASS')
    expect(head.headers['cache-status']).toContain('hit-for-pass')
    expect(head.headers['content-type']).toBe('text/plain')
    expect(head.headers['x-page']).toBe('ns')
    expect(head.body).toBe('')
    expect(origin.requests.map((r) => r.method)).toEqual(['GET', 'HEAD'])
  })

  it('a HEAD miss fetches GET from the origin and stores it for later GETs', async () => {
    await start()
    const head = await get(`${proxy.url}/h2`, {}, 'HEAD')
    expect(head.body).toBe('')
    expect(origin.requests[0]?.method).toBe('GET')
    const hit = await get(`${proxy.url}/h2`)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.body).toBe('page')
  })
})

describe('fields the origin sends on several lines', () => {
  it('stores a response whose Cache-Control arrives on two lines, with the freshness of both', async () => {
    origin.setHandler((_req, res) => {
      res.setHeader('cache-control', ['public', 'max-age=60'])
      res.end('two-lines')
    })
    await start()
    const first = await get(`${proxy.url}/cc2`)
    expect(first.status).toBe(200)
    expect(first.headers['x-cache']).toBe('MISS')
    expect(first.body).toBe('two-lines')
    clock.advance(5000)
    const hit = await get(`${proxy.url}/cc2`)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['cache-status']).toBe('corral; hit; ttl=55')
    expect(hit.body).toBe('two-lines')
    expect(origin.count).toBe(1)
  })

  it('a 304 with two Cache-Control lines refreshes the entry', async () => {
    origin.setHandler((req, res) => {
      res.setHeader('etag', '"v1"')
      if (req.headers['if-none-match'] === '"v1"') {
        res.setHeader('cache-control', ['public', 'max-age=10'])
        res.writeHead(304)
        res.end()
        return
      }
      res.setHeader('cache-control', 'max-age=10')
      res.end('body-v1')
    })
    await start({ cache: { graceSeconds: 0 } })
    await get(`${proxy.url}/r304`)
    clock.advance(11_000)
    const revalidated = await get(`${proxy.url}/r304`)
    expect(revalidated.status).toBe(200)
    expect(revalidated.headers['x-cache']).toBe('REVALIDATED')
    expect(revalidated.body).toBe('body-v1')
    clock.advance(5000)
    const hit = await get(`${proxy.url}/r304`)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['cache-status']).toBe('corral; hit; ttl=5')
    expect(origin.count).toBe(2)
  })

  it('a background refresh answered with two Cache-Control lines stores the new answer', async () => {
    origin.setHandler((_req, res, n) => {
      res.setHeader('cache-control', n === 1 ? 'max-age=1, stale-while-revalidate=30' : ['max-age=1', 'stale-while-revalidate=30'])
      res.end(`v${n}`)
    })
    await start()
    await get(`${proxy.url}/swr2`)
    clock.advance(2000)
    expect((await get(`${proxy.url}/swr2`)).headers['x-cache']).toBe('STALE')
    await expect.poll(async () => (await get(`${proxy.url}/swr2`)).body).toBe('v2')
    expect(proxy.logs.filter((l) => l['msg'] === 'background refresh crashed')).toEqual([])
  })
})

describe('stale content (RFC 5861 and grace)', () => {
  it('stale-while-revalidate: a burst after expiry is answered at once and causes exactly one refresh', async () => {
    origin.setHandler(answer(200, { 'cache-control': 'max-age=1, stale-while-revalidate=30' }, (n) => `v${n}`))
    await start()
    await get(`${proxy.url}/swr`)
    clock.advance(2000)
    // The origin is held shut: every answer below can only have come from the stale copy.
    origin.hold()
    const burst = await Promise.all(Array.from({ length: 50 }, async () => await get(`${proxy.url}/swr`)))
    for (const r of burst) {
      expect(r.headers['x-cache']).toBe('STALE')
      expect(r.body).toBe('v1')
    }
    await origin.arrived(2)
    expect(origin.count).toBe(2)
    origin.release()
    // The refresh lands: the next request is a fresh hit on the new body.
    await expect.poll(async () => (await get(`${proxy.url}/swr`)).body).toBe('v2')
    expect(origin.count).toBe(2)
  })

  it('applies cache.graceSeconds when the origin says nothing about stale', async () => {
    origin.setHandler(answer(200, { 'cache-control': 'max-age=1' }, (n) => `g${n}`))
    await start({ cache: { graceSeconds: 5 } })
    await get(`${proxy.url}/grace`)
    clock.advance(3000)
    expect((await get(`${proxy.url}/grace`)).headers['x-cache']).toBe('STALE')
    // Wait for the background refresh to land before moving the clock on.
    await expect.poll(async () => (await get(`${proxy.url}/grace`)).body).toBe('g2')
    clock.advance(10_000)
    const late = await get(`${proxy.url}/grace`)
    expect(late.headers['x-cache']).toBe('MISS')
  })

  it('must-revalidate forbids serving stale, even within grace', async () => {
    origin.setHandler(answer(200, { 'cache-control': 'max-age=1, must-revalidate' }, (n) => `m${n}`))
    await start({ cache: { graceSeconds: 60 } })
    await get(`${proxy.url}/mr`)
    clock.advance(2000)
    const second = await get(`${proxy.url}/mr`)
    expect(second.headers['x-cache']).toBe('MISS')
    expect(second.body).toBe('m2')
  })

  it('stale-if-error: serves the stale copy when the origin fails', async () => {
    origin.setHandler(answer(200, { 'cache-control': 'max-age=1, stale-if-error=60' }, 'good'))
    await start({ cache: { graceSeconds: 0 } })
    await get(`${proxy.url}/sie`)
    clock.advance(5000)
    origin.setHandler(answer(500, {}, 'boom'))
    const r = await get(`${proxy.url}/sie`)
    expect(r.status).toBe(200)
    expect(r.body).toBe('good')
    expect(r.headers['x-cache']).toBe('STALE')
    expect(r.headers['cache-status']).toContain('stale-if-error')
  })

  it('stale-if-error: serves the stale copy when the origin is down', async () => {
    origin.setHandler(answer(200, { 'cache-control': 'max-age=1, stale-if-error=60' }, 'good'))
    await start({ cache: { graceSeconds: 0 } })
    await get(`${proxy.url}/down`)
    clock.advance(5000)
    await origin.close()
    const r = await get(`${proxy.url}/down`)
    expect(r.status).toBe(200)
    expect(r.body).toBe('good')
    expect(r.headers['x-cache']).toBe('STALE')
    origin = await startOrigin(answer(200, {}, ''))
  })
})
