/**
 * Issue 4: each flag's effect through real sockets: cacheOnly, route switches (prefix and ~regex), whenShed answers,
 * shedPercent, origin protection (origin.maxInFlight / queueSize / queueTimeoutMs), and the access log line.
 * Flags are flipped with proxy.apply (reload.test.ts covers edits to the file itself).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, TestClock, type Got, type TestProxy } from '../helpers/proxy.js'
import { merge, metricSum, type Json } from '../helpers/config-file.js'

let origin: TestOrigin
let proxy: TestProxy
let config: Json
const cleanups: Array<() => void> = []

afterEach(async () => {
  await proxy?.close()
  await origin?.close()
  for (const c of cleanups.splice(0)) c()
})

/** An origin answering every path with its own body; /short/* pages are fresh for 1 s, the rest for 60 s. */
async function start (overrides: Json, clock?: TestClock): Promise<void> {
  origin = await startOrigin((req, res) => {
    res.writeHead(200, { 'cache-control': req.url?.startsWith('/short/') === true ? 'max-age=1' : 'max-age=60', 'content-type': 'text/plain' })
    res.end(`page ${req.url ?? ''}`)
  })
  config = merge({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    origin: { url: origin.url, timeoutMs: 5000, retries: 0 },
    log: { level: 'info', access: true }
  }, overrides)
  proxy = await startProxy(origin.url, config, clock === undefined ? {} : { clock })
}

/** Hot reload without the file: the same path a valid edit takes (proxy.apply). */
function flip (changes: Json): void {
  config = merge(config, changes)
  proxy.proxy.apply(parseConfig(JSON.stringify(config)))
}

async function page (path: string, method = 'GET', headers: Record<string, string> = {}): Promise<Got> {
  return await get(`${proxy.url}${path}`, headers, method)
}

async function metrics (): Promise<string> {
  return await (await fetch(`${proxy.adminUrl}/metrics`)).text()
}

describe('cacheOnly', () => {
  it('serves fresh and stale copies of any age, and sheds a miss with 503, Retry-After and X-Cache: SHED, never reaching the origin', async () => {
    const clock = new TestClock()
    await start({}, clock)
    expect((await page('/fresh')).headers['x-cache']).toBe('MISS')
    expect((await page('/short/old')).headers['x-cache']).toBe('MISS')
    expect(origin.count).toBe(2)
    // /short/old is now past its max-age and the 10 s grace: without cacheOnly it would be refetched.
    clock.advance(30_000)
    flip({ flags: { cacheOnly: true } })

    const fresh = await page('/fresh')
    expect([fresh.status, fresh.headers['x-cache'], fresh.body]).toEqual([200, 'HIT', 'page /fresh'])
    const old = await page('/short/old')
    expect([old.status, old.headers['x-cache'], old.body]).toEqual([200, 'STALE', 'page /short/old'])
    expect(old.headers['cache-status']).toContain('detail=cache-only')
    clock.advance(7 * 24 * 3600_000)
    expect((await page('/fresh')).headers['x-cache']).toBe('STALE')

    const miss = await page('/never-cached')
    expect(miss.status).toBe(503)
    expect(miss.headers['retry-after']).toBe('5')
    expect(miss.headers['x-cache']).toBe('SHED')
    expect(miss.headers['cache-control']).toBe('no-store')
    expect(miss.headers['cache-status']).toBe('corral; detail=shed-cache-only')
    // Uncacheable requests would go straight to the origin: under cacheOnly they are shed too.
    expect((await page('/form', 'POST')).headers['x-cache']).toBe('SHED')
    expect((await page('/private', 'GET', { authorization: 'Bearer x' })).headers['x-cache']).toBe('SHED')
    const head = await page('/never-cached-either', 'HEAD')
    expect([head.status, head.body]).toEqual([503, ''])
    expect(origin.count).toBe(2)
    expect(metricSum(await metrics(), 'corral_sheds_total', 'reason="cache-only"')).toBe(4)

    flip({ flags: { cacheOnly: false } })
    expect((await page('/never-cached')).headers['x-cache']).toBe('MISS')
    expect(origin.count).toBe(3)
  })

  it('applies to critical routes too, and a miss gets the route\'s whenShed answer', async () => {
    await start({
      flags: { cacheOnly: { value: true, note: 'origin migration' } },
      routes: [
        { match: '/checkout/', priority: 'critical' },
        { match: '/news/', whenShed: { status: 200, retryAfter: 30, body: '<p>news is resting</p>' } }
      ]
    })
    const news = await page('/news/1')
    expect(news.status).toBe(200)
    expect(news.body).toBe('<p>news is resting</p>')
    expect(news.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(news.headers['retry-after']).toBe('30')
    expect(news.headers['x-cache']).toBe('SHED')
    const checkout = await page('/checkout/cart')
    expect([checkout.status, checkout.headers['x-cache']]).toEqual([503, 'SHED'])
    expect(origin.count).toBe(0)
    const text = await metrics()
    expect(metricSum(text, 'corral_sheds_total', 'route="/news/"')).toBe(1)
    expect(metricSum(text, 'corral_sheds_total', 'route="/checkout/"')).toBe(1)
  })

  it('a POST shed with a 200 lite page does not mark the cached page stale (it never reached the origin)', async () => {
    await start({ routes: [{ match: '/news/', whenShed: { status: 200, body: '<p>news is resting</p>' } }] })
    expect((await page('/news/1')).headers['x-cache']).toBe('MISS')
    expect((await page('/news/1')).headers['x-cache']).toBe('HIT')

    flip({ flags: { cacheOnly: true } })
    const post = await page('/news/1', 'POST')
    expect([post.status, post.headers['x-cache'], post.body]).toEqual([200, 'SHED', '<p>news is resting</p>'])
    // Still a fresh hit while shedding, and after it: no revalidation, no request to the origin.
    expect((await page('/news/1')).headers['x-cache']).toBe('HIT')
    flip({ flags: { cacheOnly: false } })
    const after = await page('/news/1')
    expect([after.headers['x-cache'], after.body]).toEqual(['HIT', 'page /news/1'])
    expect(origin.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /news/1'])

    // A POST that does reach the origin and succeeds still invalidates the page (RFC 9111 §4.4).
    expect((await page('/news/1', 'POST')).headers['x-cache']).toBe('PASS')
    // The mark is made when the POST's response finishes, which may trail the client's read of it by a moment.
    await expect.poll(async () => (await page('/news/1')).headers['x-cache']).toBe('MISS')
    expect(origin.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /news/1', 'POST /news/1', 'GET /news/1'])
  })
})

describe('route switches', () => {
  it('a route whose flag is false is shed at once, even with a cached copy; switching it back on serves the copy', async () => {
    await start({ flags: { beta: true }, routes: [{ match: '/beta/', flag: 'beta' }] })
    expect((await page('/beta/a')).headers['x-cache']).toBe('MISS')
    expect((await page('/beta/a')).headers['x-cache']).toBe('HIT')

    flip({ flags: { beta: false } })
    const off = await page('/beta/a')
    expect([off.status, off.headers['x-cache'], off.headers['cache-status']]).toEqual([503, 'SHED', 'corral; detail=shed-route-off'])
    expect((await page('/beta/b')).status).toBe(503)
    expect((await page('/other')).headers['x-cache']).toBe('MISS')
    expect(origin.requests.map((r) => r.url)).toEqual(['/beta/a', '/other'])
    expect(metricSum(await metrics(), 'corral_sheds_total', 'reason="route-off",route="/beta/"')).toBe(2)

    flip({ flags: { beta: true } })
    expect((await page('/beta/a')).headers['x-cache']).toBe('HIT')
  })

  it('a reload applies to the very URL just served: a new route and new key options are not shadowed by the last resolved target', async () => {
    await start({})
    expect((await page('/hot?utm_source=x')).headers['x-cache']).toBe('MISS')
    expect((await page('/hot?utm_source=x')).headers['x-cache']).toBe('HIT')

    flip({ flags: { hot: false }, routes: [{ match: '/hot', flag: 'hot' }] })
    const off = await page('/hot?utm_source=x')
    expect([off.status, off.headers['x-cache']]).toEqual([503, 'SHED'])

    // utm_source kept in the key: the same target now names another entry.
    flip({ flags: { hot: true }, cache: { key: { ignoreQueryParams: [] } } })
    expect((await page('/hot?utm_source=x')).headers['x-cache']).toBe('MISS')
    expect(origin.requests.map((r) => r.url)).toEqual(['/hot', '/hot?utm_source=x'])
  })

  it('matches path prefixes and ~regexes on the path (not the query), first match in config order', async () => {
    await start({
      flags: { articles: false, assets: true },
      routes: [
        { match: '/static/', flag: 'assets' },
        { match: '~^/article/\\d+$', flag: 'articles', whenShed: { status: 410, retryAfter: 0, body: 'gone for now' } },
        // Listed after /static/: never reached for /static/ paths even though it matches them.
        { match: '~^/static/', flag: 'articles' }
      ]
    })
    expect((await page('/static/app.js')).status).toBe(200)
    const article = await page('/article/42?ref=home')
    expect([article.status, article.body, article.headers['retry-after']]).toEqual([410, 'gone for now', '0'])
    // Neither the regex (not all digits) nor a prefix: the default route, served.
    expect((await page('/article/new')).status).toBe(200)
    expect((await page('/article/42x')).status).toBe(200)
    expect(origin.requests.map((r) => r.url)).toEqual(['/static/app.js', '/article/new', '/article/42x'])
  })

  it('answers a shed request with a whenShed file (a static lite page)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-lite-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const lite = join(dir, 'lite.html')
    writeFileSync(lite, '<!doctype html><h1>Lite</h1>\n')
    await start({ flags: { shop: false }, routes: [{ match: '/shop/', flag: 'shop', whenShed: { status: 200, file: lite } }] })
    const res = await page('/shop/')
    expect([res.status, res.body, res.headers['content-type']]).toEqual([200, '<!doctype html><h1>Lite</h1>\n', 'text/html; charset=utf-8'])
    expect(origin.count).toBe(0)
  })
})

describe('shedPercent', () => {
  // Per 10 requests: 3 sheddable, 5 normal, 2 critical, interleaved as traffic would be.
  const MIX = ['/n/', '/extra/', '/crit/', '/n/', '/extra/', '/n/', '/crit/', '/n/', '/extra/', '/n/']
  const ROUTES = [{ match: '/crit/', priority: 'critical' }, { match: '/extra/', priority: 'sheddable' }]

  it.each([
    // P, then the share of all requests shed: at 90 only 80 can go, since critical (20% of the mix) is never shed.
    [10, 10],
    [50, 50],
    [90, 80]
  ])('sheds %i%% of a mixed-priority load as %i%% of all requests, sheddable first, critical never; /metrics says so', async (percent, expected) => {
    await start({ flags: { shedPercent: percent }, routes: ROUTES })
    const shed: Record<string, number> = { '/n/': 0, '/extra/': 0, '/crit/': 0 }
    const n = 300
    for (let i = 0; i < n; i++) {
      const prefix = MIX[i % MIX.length] as string
      const res = await page(`${prefix}${i}`)
      if (res.headers['x-cache'] === 'SHED') {
        expect(res.status).toBe(503)
        shed[prefix] = (shed[prefix] ?? 0) + 1
      } else {
        expect(res.headers['x-cache']).toBe('MISS')
      }
    }
    const total = (shed['/n/'] ?? 0) + (shed['/extra/'] ?? 0) + (shed['/crit/'] ?? 0)
    expect(Math.abs((total / n) * 100 - expected)).toBeLessThanOrEqual(2)
    expect(shed['/crit/']).toBe(0)
    // Lowest priority first: normal requests are shed only once the sheddable ones (30% of the mix) are not enough.
    if (percent <= 30) expect(shed['/n/']).toBe(0)
    else expect(shed['/extra/']).toBeGreaterThanOrEqual(n * 0.3 - 2)
    const text = await metrics()
    expect(metricSum(text, 'corral_flag', 'name="shedPercent"')).toBe(percent)
    expect(Math.abs(metricSum(text, 'corral_shed_share_percent') - expected)).toBeLessThanOrEqual(2)
    // Nothing shed reached the origin.
    expect(origin.count).toBe(n - total)
  })

  it('a shed request is answered from cache when it can be: a hit, not a refusal', async () => {
    await start({ routes: [{ match: '/', priority: 'sheddable' }] })
    await page('/cached')
    const before = origin.count
    flip({ flags: { shedPercent: 100 } })
    expect((await page('/cached')).headers['x-cache']).toBe('HIT')
    expect((await page('/other')).headers['x-cache']).toBe('SHED')
    expect(origin.count).toBe(before)
    expect(metricSum(await metrics(), 'corral_sheds_total', 'reason="shed-percent"')).toBe(1)
  })

  it('is deterministic: two proxies given the same requests shed the same ones', async () => {
    const patterns: string[] = []
    for (let run = 0; run < 2; run++) {
      if (run > 0) {
        await proxy.close()
        await origin.close()
      }
      // At 30, with every request on a sheddable route, 30% of them are shed.
      await start({ flags: { shedPercent: 30 }, routes: [{ match: '/', priority: 'sheddable' }] })
      let pattern = ''
      for (let i = 0; i < 100; i++) pattern += (await page(`/p/${i}`)).headers['x-cache'] === 'SHED' ? 'x' : '.'
      patterns.push(pattern)
    }
    expect(patterns[0]).toBe(patterns[1])
    expect(patterns[0]?.replaceAll('.', '').length).toBe(30)
    // Spread out, not a burst: at a 30% share no two refusals in a row.
    expect(patterns[0]).not.toContain('xx')
  })
})

describe('origin protection', () => {
  it('origin.maxInFlight caps concurrent origin requests exactly; queueSize more wait; the rest are shed', async () => {
    await start({ origin: { maxInFlight: 3, queueSize: 2, queueTimeoutMs: 10_000 } })
    origin.hold()
    const done: Got[] = []
    const all = Array.from({ length: 12 }, async (_, i) => {
      const res = await page(`/c/${i}`)
      done.push(res)
      return res
    })
    await origin.arrived(3)
    // 3 at the origin, 2 queued behind them, 7 turned away at once.
    await expect.poll(() => done.length, { timeout: 5000 }).toBe(7)
    expect(done.every((r) => r.status === 503 && r.headers['x-cache'] === 'SHED' && r.headers['cache-status'] === 'corral; detail=shed-origin-saturated')).toBe(true)
    expect(origin.count).toBe(3)
    expect(origin.inFlight).toBe(3)
    const flags = await (await fetch(`${proxy.adminUrl}/flags`)).json() as { origin: { inFlight: number, queued: number, limit: number } }
    expect(flags.origin).toEqual({ inFlight: 3, queued: 2, limit: 3 })

    origin.release(true)
    await origin.arrived(5)
    origin.release()
    const results = await Promise.all(all)
    expect(results.filter((r) => r.status === 200)).toHaveLength(5)
    expect(origin.count).toBe(5)
    expect(origin.maxInFlight).toBe(3)
    expect(metricSum(await metrics(), 'corral_sheds_total', 'reason="origin-saturated"')).toBe(7)
  })

  it('a saturated origin serves a stale copy of any age instead of shedding', async () => {
    const clock = new TestClock()
    await start({ origin: { maxInFlight: 1, queueSize: 0 } }, clock)
    await page('/short/page')
    clock.advance(24 * 3600_000)
    origin.hold()
    const busy = page('/slow')
    await origin.arrived(2)
    const stale = await page('/short/page')
    expect([stale.status, stale.headers['x-cache'], stale.body]).toEqual([200, 'STALE', 'page /short/page'])
    expect(stale.headers['cache-status']).toContain('detail=origin-saturated')
    expect((await page('/uncached')).headers['x-cache']).toBe('SHED')
    expect(origin.count).toBe(2)
    origin.release()
    expect((await busy).status).toBe(200)
    expect(origin.maxInFlight).toBe(1)
  })

  it('a request that waits longer than origin.queueTimeoutMs for a slot is shed', async () => {
    await start({ origin: { maxInFlight: 1, queueSize: 1, queueTimeoutMs: 200 } })
    origin.hold()
    const first = page('/first')
    await origin.arrived(1)
    const queued = await page('/queued')
    expect([queued.status, queued.headers['x-cache']]).toEqual([503, 'SHED'])
    expect(origin.count).toBe(1)
    origin.release()
    expect((await first).status).toBe(200)
  })

  it('with the limit raised on reload, queued requests move up at once', async () => {
    await start({ origin: { maxInFlight: 1, queueSize: 5, queueTimeoutMs: 10_000 } })
    origin.hold()
    const all = [page('/r/1'), page('/r/2'), page('/r/3')]
    await origin.arrived(1)
    expect(origin.inFlight).toBe(1)
    flip({ origin: { maxInFlight: 3 } })
    await origin.arrived(3)
    expect(origin.maxInFlight).toBe(3)
    origin.release()
    expect((await Promise.all(all)).map((r) => r.status)).toEqual([200, 200, 200])
  })
})

describe('access log', () => {
  it('writes one JSON line per request: method, url, status, cache, bytes, ms, originMs, shed', async () => {
    await start({ flags: { beta: false }, routes: [{ match: '/beta/', flag: 'beta' }] })
    await page('/logged')
    await page('/logged')
    await page('/beta/x')
    await expect.poll(() => proxy.logs.filter((l) => l['msg'] === 'access').length, { timeout: 2000 }).toBe(3)
    const [miss, hit, shed] = proxy.logs.filter((l) => l['msg'] === 'access')
    expect(miss).toMatchObject({ method: 'GET', url: '/logged', status: 200, cache: 'MISS', bytes: 'page /logged'.length, originStatus: 200 })
    expect(miss?.['ms']).toEqual(expect.any(Number))
    expect(miss?.['originMs']).toEqual(expect.any(Number))
    expect(miss).not.toHaveProperty('shed')
    expect(hit).toMatchObject({ url: '/logged', status: 200, cache: 'HIT', bytes: 'page /logged'.length })
    expect(hit).not.toHaveProperty('originMs')
    expect(shed).toMatchObject({ url: '/beta/x', status: 503, cache: 'SHED', shed: 'route-off' })
  })
})
