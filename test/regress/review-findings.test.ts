/**
 * Regressions from the code review of 2026-11-25: cache poisoning through client-controlled input, uncacheable
 * answers switching caching off for everyone, and an origin outage fanning waiters out to the origin.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, rawRequest, burstBehindOneFetch, TestClock, type TestProxy } from '../helpers/proxy.js'
import { parseConfig } from '../../src/config/load.js'
import { MemoryStore } from '../../src/store/memory.js'
import { makeEntry } from '../store/records.js'
import { Origin } from '../../src/origin/fetch.js'
import { OriginLimiter } from '../../src/origin/limit.js'
import { fill, type FillContext, type FillRequest } from '../../src/fill.js'
import { makeLogger } from '../../src/core/log.js'

let origin: TestOrigin | undefined
let proxy: TestProxy | undefined

afterEach(async () => {
  await proxy?.close()
  await origin?.close()
  proxy = undefined
  origin = undefined
})

const reflect = answer(200, { 'cache-control': 'max-age=60' }, (n) => `page-${n}`)

describe('cache keys cannot be poisoned', () => {
  it('refuses an absolute-form target whose host is not the Host header, and forwards a matching one in origin-form', async () => {
    const o = origin = await startOrigin(reflect)
    const p = proxy = await startProxy(o.url)
    const refused = await rawRequest(p.url, 'GET http://victim.test/x HTTP/1.1\r\nHost: attacker.test')
    expect(refused).toMatch(/^HTTP\/1\.1 400/)
    expect(o.count).toBe(0)
    const ok = await rawRequest(p.url, 'GET http://victim.test/x?a=1 HTTP/1.1\r\nHost: victim.test')
    expect(ok).toMatch(/^HTTP\/1\.1 200/)
    expect(o.requests[0]?.url).toBe('/x?a=1')
  })

  it('refuses a Host that is not a host (a "/" would file the page under another path)', async () => {
    const o = origin = await startOrigin(reflect)
    const p = proxy = await startProxy(o.url)
    expect(await rawRequest(p.url, 'GET /reflect HTTP/1.1\r\nHost: site.test/evil')).toMatch(/^HTTP\/1\.1 400/)
    expect(o.count).toBe(0)
    expect((await get(`${p.url}/evil/reflect`, { host: 'site.test' })).headers['x-cache']).toBe('MISS')
  })

  it('never sends the origin a query parameter the key drops', async () => {
    const o = origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end(`saw ${req.url ?? ''}`)
    })
    const p = proxy = await startProxy(o.url)
    const poisoned = await get(`${p.url}/r?utm_source=<script>x</script>`)
    expect(poisoned.body).toBe('saw /r')
    expect((await get(`${p.url}/r`)).body).toBe('saw /r')
    expect((await get(`${p.url}/c?id=1&utm_source=x;id=evil`)).body).toBe('saw /c?id=1')
  })

  it('keys a Vary variant by what the origin received: Connection-listed headers are not forwarded, nor keyed', async () => {
    const o = origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' })
      res.end(`lang=${req.headers['accept-language'] ?? 'default'}`)
    })
    const p = proxy = await startProxy(o.url)
    const sneaky = await rawRequest(p.url, 'GET /v HTTP/1.1\r\nHost: site.test\r\nAccept-Language: fr\r\nConnection: accept-language')
    expect(sneaky).toContain('lang=default')
    const fr = await get(`${p.url}/v`, { host: 'site.test', 'accept-language': 'fr' })
    expect(fr.body).toBe('lang=fr')
  })
})

describe('uncacheable answers', () => {
  it('an answer to one user\'s background refresh does not switch caching off for everyone (hit-for-miss)', async () => {
    const clock = new TestClock()
    const o = origin = await startOrigin((req, res, n) => {
      if (req.headers.cookie !== undefined) {
        res.writeHead(200, { 'cache-control': 'private', 'set-cookie': 'session=alice' })
        res.end('alice')
        return
      }
      res.writeHead(200, { 'cache-control': 'public, max-age=2' })
      res.end(`public-${n}`)
    })
    const p = proxy = await startProxy(o.url, {}, { clock })
    await get(`${p.url}/home`)
    clock.advance(3000)
    // Alice's request finds the page stale: she gets the stale public copy, and her refresh answer is private.
    expect((await get(`${p.url}/home`, { cookie: 'session=alice' })).body).toBe('public-1')
    await expect.poll(() => o.count).toBe(2)
    const anonymous = await get(`${p.url}/home`)
    expect(anonymous.headers['x-cache']).not.toBe('PASS')
    expect(anonymous.body).toMatch(/^public-/)
  })

  it('a URL remembered as uncacheable is fetched alone, and cached again once its answer is storable', async () => {
    let cacheable = false
    const o = origin = await startOrigin((_req, res, n) => {
      res.writeHead(200, { 'cache-control': cacheable ? 'max-age=60' : 'no-store' })
      res.end(`v${n}`)
    })
    const p = proxy = await startProxy(o.url)
    await get(`${p.url}/flip`)
    const pass = await get(`${p.url}/flip`)
    expect(pass.headers['x-cache']).toBe('PASS')
    expect(pass.headers['cache-status']).toContain('hit-for-pass')
    cacheable = true
    await get(`${p.url}/flip`)
    const hit = await get(`${p.url}/flip`)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(o.count).toBe(3)
  })
})

describe('an origin in trouble', () => {
  it('waiters of a 5xx fetch get the stale copy (stale-if-error) instead of each asking the failing origin', async () => {
    const clock = new TestClock()
    const o = origin = await startOrigin(answer(200, { 'cache-control': 'max-age=1, stale-if-error=60' }, 'good'))
    const p = proxy = await startProxy(o.url, { cache: { graceSeconds: 0 } }, { clock })
    await get(`${p.url}/sie`)
    clock.advance(5000)
    o.setHandler(answer(503, {}, 'down'))
    const answers = await burstBehindOneFetch(o, p, `${p.url}/sie`, 20)
    expect(answers.every((r) => r.status === 200 && r.body === 'good')).toBe(true)
    expect(o.count).toBe(2)
  })

  it('waiters of a 5xx fetch without a stale copy share its status, not a request each', async () => {
    const o = origin = await startOrigin(answer(500, {}, 'boom'))
    const p = proxy = await startProxy(o.url)
    const answers = await burstBehindOneFetch(o, p, `${p.url}/cold`, 10)
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(500))
    expect(o.count).toBe(1)
  })
})

describe('safe methods and the admin listener', () => {
  it('OPTIONS (a CORS preflight) does not evict the page', async () => {
    const o = origin = await startOrigin(reflect)
    const p = proxy = await startProxy(o.url)
    await get(`${p.url}/page`)
    expect((await get(`${p.url}/page`, {}, 'OPTIONS')).status).toBe(200)
    expect((await get(`${p.url}/page`)).headers['x-cache']).toBe('HIT')
  })

  it('refuses an admin listener off loopback without a token', () => {
    expect(() => parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:1' }, admin: { host: '0.0.0.0' } })))
      .toThrow(/admin\.token: is required when admin\.host \(0\.0\.0\.0\) is not a loopback address/)
    expect(() => parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:1' }, admin: { host: '0.0.0.0', token: 'a-long-enough-token' } }))).not.toThrow()
  })
})

describe('a record node:http refuses to write', () => {
  it('costs its own request a 500 and a log line; the process keeps serving every other page', async () => {
    const o = origin = await startOrigin(reflect)
    const store = new MemoryStore({ maxBytes: 1 << 20 })
    const p = proxy = await startProxy(o.url, { cache: { key: { includeHost: false } } }, { store })
    // What a damaged record would look like once in L1 (the codec now refuses such items from memcached): a header
    // value with a control character, which writeHead throws on, synchronously, inside the request listener.
    const now = Date.now()
    store.set('/bad', makeEntry('/bad', {
      headers: ['x-note', 'a\u0001b', 'content-length', '2'],
      body: Buffer.from('ok'),
      storedAt: now,
      initialAgeSeconds: 0,
      freshUntil: now + 60_000,
      staleWhileRevalidateUntil: now + 60_000,
      staleIfErrorUntil: now + 60_000,
      etag: undefined
    }), 60_000)
    for (let i = 0; i < 2; i++) {
      const bad = await get(`${p.url}/bad`)
      expect(bad.status).toBe(500)
      expect(bad.body).toBe('internal error\n')
    }
    expect(p.logs.filter((l) => l['msg'] === 'internal error')).toHaveLength(2)
    expect((await get(`${p.url}/good`)).status).toBe(200)
    expect((await get(`${p.url}/good`)).headers['x-cache']).toBe('HIT')
  })
})

describe('an origin that sends Cache-Control on two lines (review of 2026-12)', () => {
  const big = 'x'.repeat(100 * 1024)

  it('is cached, and never costs an origin slot: later pages still reach the origin (origin.maxInFlight 2)', async () => {
    const o = origin = await startOrigin((req, res) => {
      if (req.url?.startsWith('/dup') === true) res.setHeader('cache-control', ['public', 'max-age=60'])
      else res.setHeader('cache-control', 'max-age=60')
      // Past undici's high-water mark: a body nobody reads would also hold its connection, paused.
      res.end(big)
    })
    const p = proxy = await startProxy(o.url, { origin: { maxInFlight: 2, queueSize: 1, queueTimeoutMs: 200 } })
    const answers = []
    for (let i = 0; i < 4; i++) answers.push(await get(`${p.url}/dup${i}`))
    for (let i = 0; i < 3; i++) answers.push(await get(`${p.url}/other${i}`))
    expect(answers.map((r) => r.status)).toEqual(Array(7).fill(200))
    expect(answers.every((r) => r.body === big)).toBe(true)
    const hit = await get(`${p.url}/dup0`)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(o.requests.filter((r) => r.url === '/dup0')).toHaveLength(1)
    expect(p.proxy.metrics.sources.originInFlight()).toBe(0)
  })

  it('fill gives back the origin slot and the connection when anything throws once the headers are in', async () => {
    const o = origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, big))
    const { config } = parseConfig(JSON.stringify({ origin: { url: o.url, timeoutMs: 5000, connections: 1 } }))
    const limiter = new OriginLimiter({ maxInFlight: 1, queueSize: 1, queueTimeoutMs: 200, adaptive: false })
    const upstream = new Origin(config, limiter)
    try {
      // `now` is first read once the origin's headers are in: a throw there stands for any bug between them and the body.
      const ctx = (now: FillContext['now']): FillContext => ({
        origin: upstream,
        store: new MemoryStore({ maxBytes: 1 << 22 }),
        now,
        storeOptions: { graceSeconds: 0, staleIfErrorSeconds: 0, heuristicFraction: 0, storeSetCookie: false, keepStaleSeconds: 0 },
        maxObjectBytes: 1 << 20,
        fillHeaders: { dropped: [], keyed: [] },
        logger: makeLogger('silent')
      })
      const request: FillRequest = {
        key: '/p',
        primaryKey: '/p',
        varyIndex: null,
        path: '/p',
        client: { headers: { host: 'h' }, address: undefined, keyHost: 'h' },
        stale: undefined,
        credentialed: false,
        group: 'origin'
      }
      const ask = { originHeaders: { host: 'h' }, requestHeaders: { host: 'h' } }
      const boom = new Error('a bug after the headers')
      await expect(fill(ctx(() => { throw boom }), request, ask)).rejects.toBe(boom)
      await expect.poll(() => limiter.inFlight).toBe(0)
      // The one slot and the one connection are free for the next fill.
      const next = await fill(ctx(() => Date.now()), request, ask)
      expect(next.kind).toBe('entry')
      expect(next.kind === 'entry' && next.entry.body.toString()).toBe(big)
    } finally {
      await upstream.close()
    }
  })
})
