/**
 * Issue 4: the admin listener (/health, /metrics, /flags, /purge), admin.token as a Bearer token, and live debugging
 * with X-Corral-Debug. Real sockets on both listeners.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, type TestProxy } from '../helpers/proxy.js'
import { metricSum } from '../helpers/config-file.js'

const TOKEN = 'a-long-admin-token-0123456789'
const HOST = 'site.test'

let origin: TestOrigin
let proxy: TestProxy

afterEach(async () => {
  await proxy?.close()
  await origin?.close()
})

async function start (overrides: Record<string, unknown> = {}): Promise<void> {
  origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, (n) => `page ${n}`))
  proxy = await startProxy(origin.url, overrides)
}

async function page (path: string, headers: Record<string, string> = {}): Promise<Awaited<ReturnType<typeof get>>> {
  return await get(`${proxy.url}${path}`, { host: HOST, ...headers })
}

async function admin (path: string, method = 'GET', token?: string): Promise<{ status: number, headers: Headers, text: string }> {
  const res = await fetch(`${proxy.adminUrl}${path}`, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

describe('admin listener', () => {
  it('GET /health answers 200 while serving; the main listener answers its health path too', async () => {
    await start()
    const health = await admin('/health')
    expect(health.status).toBe(200)
    expect(JSON.parse(health.text)).toEqual({ status: 'serving' })
    const lb = await get(`${proxy.url}/__corral/health`)
    expect([lb.status, lb.body]).toEqual([200, 'ok\n'])
    // Probes are neither sent to the origin nor counted as requests.
    expect(origin.count).toBe(0)
    expect(metricSum((await admin('/metrics')).text, 'corral_requests_total')).toBe(0)
  })

  it('GET /healthz is /health; with every origin server down health says so in its body and stays 200 (issue 26)', async () => {
    await start({ origin: { url: 'http://127.0.0.1:1', health: { path: '/up', intervalMs: 100, timeoutMs: 100, downAfter: 1 } } })
    expect((await admin('/healthz')).status).toBe(200)
    await expect.poll(async () => JSON.parse((await admin('/healthz')).text) as unknown, { timeout: 5000, interval: 50 }).toEqual({
      status: 'serving',
      origins: 'no origin server is up (0 of 1): answering from cache only, misses get 502 or a stale copy'
    })
    expect((await admin('/health')).status).toBe(200)
    // The balancer's health path too, still 200.
    const lb = await get(`${proxy.url}/__corral/health`)
    expect([lb.status, lb.body]).toEqual([200, 'ok: no origin server is up (0 of 1); serving from cache only\n'])
  })

  it('GET /metrics is Prometheus text: requests by cache status, origin requests, sheds by reason and route, config reloads', async () => {
    await start({ flags: { beta: false }, routes: [{ match: '/beta/', flag: 'beta' }] })
    await page('/a')
    await page('/a')
    await page('/beta/1')
    await page('/beta/2')
    const res = await admin('/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = res.text
    expect(text).toContain('corral_requests_total{cache="MISS",code="200"} 1\n')
    expect(text).toContain('corral_requests_total{cache="HIT",code="200"} 1\n')
    expect(text).toContain('corral_requests_total{cache="SHED",code="503"} 2\n')
    expect(text).toContain('corral_origin_requests_total{reason="miss"} 1\n')
    expect(text).toContain('corral_sheds_total{reason="route-off",route="/beta/"} 2\n')
    expect(text).toContain('# TYPE corral_config_reloads_total counter')
    expect(text).toContain('# TYPE corral_request_duration_seconds histogram')
    proxy.proxy.apply(proxy.proxy.loaded)
    expect((await admin('/metrics')).text).toContain('corral_config_reloads_total{result="applied"} 1\n')
  })

  it('GET /flags shows the effective flags with their notes, the routes, the version and when it was loaded', async () => {
    const before = Date.now()
    await start({
      flags: { cacheOnly: { value: false, note: 'flip during an origin outage' }, beta: true },
      routes: [{ match: '/beta/', flag: 'beta', priority: 'sheddable' }],
      origin: { maxInFlight: 8 }
    })
    const res = await admin('/flags')
    expect(res.status).toBe(200)
    const flags = JSON.parse(res.text) as Record<string, unknown>
    expect(flags).toMatchObject({
      version: proxy.proxy.loaded.version,
      rejected: null,
      flags: {
        cacheOnly: { value: false, note: 'flip during an origin outage' },
        shedPercent: { value: 0, note: null },
        beta: { value: true, note: null }
      },
      routes: [{ match: '/beta/', priority: 'sheddable', flag: 'beta' }],
      origin: { inFlight: 0, queued: 0, limit: 8 },
      memcached: 'off'
    })
    const loadedAt = Date.parse(String(flags['loadedAt']))
    expect(loadedAt).toBeGreaterThanOrEqual(before - 1000)
    expect(loadedAt).toBeLessThanOrEqual(Date.now())
  })

  it('POST /purge evicts a page: the next request is a miss', async () => {
    await start()
    await page('/p?x=1')
    expect((await page('/p?x=1')).headers['x-cache']).toBe('HIT')
    const purged = await admin(`/purge?url=${encodeURIComponent(`http://${HOST}/p?x=1`)}`, 'POST')
    expect(purged.status).toBe(200)
    expect(JSON.parse(purged.text)).toMatchObject({ purged: { kind: 'url', values: [`http://${HOST}/p?x=1`] }, mode: 'hard', fleet: false })
    const after = await page('/p?x=1')
    expect([after.headers['x-cache'], after.body]).toEqual(['MISS', 'page 2'])

    // A path with ?host= works too.
    expect((await admin(`/purge?url=${encodeURIComponent('/p?x=1')}&host=${HOST}`, 'POST')).status).toBe(200)
    expect((await page('/p?x=1')).headers['x-cache']).toBe('MISS')
    expect(origin.count).toBe(3)
  })

  it('POST /purge refuses what it cannot purge; a wrong method gets 405 with Allow; unknown endpoints get 404', async () => {
    await start()
    expect((await admin('/purge', 'POST')).status).toBe(400)
    const pathOnly = await admin('/purge?url=/p', 'POST')
    expect(pathOnly.status).toBe(400)
    expect(pathOnly.text).toContain('host')
    // Issue 26: GET /purge was a 404, which reads as "no such endpoint".
    const wrong = await admin('/purge?url=/p')
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('POST')
    expect((await admin('/metrics', 'POST')).headers.get('allow')).toBe('GET')
    expect((await admin('/nope')).status).toBe(404)
  })
})

describe('admin.token', () => {
  it('refuses every admin request without the token (or with a wrong one) with 401', async () => {
    await start({ admin: { token: TOKEN } })
    await page('/kept')
    for (const [path, method] of [['/health', 'GET'], ['/metrics', 'GET'], ['/flags', 'GET'], [`/purge?url=http://${HOST}/kept`, 'POST']] as const) {
      const none = await admin(path, method)
      expect(none.status, `${method} ${path} without a token`).toBe(401)
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/)
      expect(none.text).not.toContain('corral_')
      expect((await admin(path, method, 'a-wrong-token-of-some-length')).status, `${method} ${path} with a wrong token`).toBe(401)
      // The token only counts as a Bearer credential.
      const basic = await fetch(`${proxy.adminUrl}${path}`, { method, headers: { authorization: TOKEN } })
      expect(basic.status).toBe(401)
    }
    // The refused purge purged nothing.
    expect((await page('/kept')).headers['x-cache']).toBe('HIT')

    expect((await admin('/health', 'GET', TOKEN)).status).toBe(200)
    expect((await admin('/metrics', 'GET', TOKEN)).text).toContain('corral_requests_total')
    expect(JSON.parse((await admin('/flags', 'GET', TOKEN)).text)).toHaveProperty('version')
    expect((await admin(`/purge?url=http://${HOST}/kept`, 'POST', TOKEN)).status).toBe(200)
    expect((await page('/kept')).headers['x-cache']).toBe('MISS')
  })
})

describe('live debugging (X-Corral-Debug)', () => {
  it('with the admin token, a request gets an x-corral-trace header: key, route, shed, tier, lease, origin status and time', async () => {
    await start({ admin: { token: TOKEN }, flags: { beta: false }, routes: [{ match: '/beta/', flag: 'beta' }, { match: '/docs/' }] })
    const miss = await page('/docs/a?q=1', { 'x-corral-debug': TOKEN })
    const trace = miss.headers['x-corral-trace']
    expect(trace).toMatch(/^key="[^"]*site\.test[^"]*\/docs\/a\?q=1"; route=\/docs\/; shed=no; tier=none; lease=-; coalesced=no; origin=200 \d+ms; elapsed=[\d.]+ms$/)

    const hit = await page('/docs/a?q=1', { 'x-corral-debug': TOKEN })
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['x-corral-trace']).toContain('shed=no; tier=memory; lease=-; coalesced=no; origin=-;')

    const shed = await page('/beta/x', { 'x-corral-debug': TOKEN })
    expect(shed.headers['x-cache']).toBe('SHED')
    expect(shed.headers['x-corral-trace']).toContain('route=/beta/; shed=route-off')

    // Without the token, or with a wrong one: nothing is revealed.
    expect((await page('/docs/a?q=1')).headers).not.toHaveProperty('x-corral-trace')
    expect((await page('/docs/a?q=1', { 'x-corral-debug': 'a-wrong-token-of-some-length' })).headers).not.toHaveProperty('x-corral-trace')
    expect((await page('/beta/x', { 'x-corral-debug': 'nope' })).headers).not.toHaveProperty('x-corral-trace')
  })

  it('with no admin token configured, X-Corral-Debug reveals nothing (and the admin listener is open)', async () => {
    await start()
    const res = await page('/x', { 'x-corral-debug': '' })
    expect(res.status).toBe(200)
    expect(res.headers).not.toHaveProperty('x-corral-trace')
    expect((await page('/x', { 'x-corral-debug': 'anything-at-all-really' })).headers).not.toHaveProperty('x-corral-trace')
    expect((await admin('/health')).status).toBe(200)
  })
})
