/** Issue 2: in-process stampede protection, through real sockets. */
import { afterEach, describe, expect, it } from 'vitest'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, coalescedWaiters, burstBehindOneFetch, type TestProxy } from '../helpers/proxy.js'

let origin: TestOrigin
let proxy: TestProxy

afterEach(async () => {
  await proxy?.close()
  await origin?.close()
})

describe('single-flight', () => {
  it('500 concurrent requests for a cold key reach the origin once and all get 200', async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, 'front page', 300))
    proxy = await startProxy(origin.url)
    const all = await Promise.all(Array.from({ length: 500 }, async () => await get(`${proxy.url}/front`)))
    expect(origin.count).toBe(1)
    expect(all.every((r) => r.status === 200 && r.body === 'front page')).toBe(true)
    const byCache = countBy(all.map((r) => r.headers['x-cache'] ?? ''))
    expect(byCache.MISS).toBe(1)
    expect((byCache.HIT ?? 0)).toBe(499)
    expect(all.filter((r) => r.headers['cache-status'] === 'corral; hit; detail=collapsed').length).toBeGreaterThan(0)
    const metrics = await (await fetch(`${proxy.adminUrl}/metrics`)).text()
    expect(metrics).toMatch(/corral_origin_requests_total\{reason="miss"\} 1\n/)
  })

  it('an uncacheable response releases its waiters at once; each gets its own answer', async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'no-store' }, (n) => `private-${n}`))
    proxy = await startProxy(origin.url)
    origin.hold()
    const burst = Array.from({ length: 100 }, async () => await get(`${proxy.url}/account`))
    // The leader's request is held at the origin; let the 99 others queue up as waiters before releasing it.
    await origin.arrived(1)
    await expect.poll(async () => await coalescedWaiters(proxy), { timeout: 10_000 }).toBe(99)
    origin.release(true)
    // Released waiters go to the origin at once, in parallel (not one after another behind a lock).
    await origin.arrived(100)
    expect(origin.inFlight).toBeGreaterThan(90)
    origin.release()
    const answers = await Promise.all(burst)
    expect(new Set(answers.map((r) => r.body)).size).toBe(100)
    expect(answers.every((r) => r.status === 200 && r.headers['x-cache'] !== 'HIT')).toBe(true)
    // The URL is now remembered as uncacheable: the next burst goes straight through.
    const next = await get(`${proxy.url}/account`)
    expect(next.headers['x-cache']).toBe('PASS')
  })

  it('a failed fetch fails all its waiters at once with 502', async () => {
    origin = await startOrigin((_req, res) => { res.socket?.destroy() })
    proxy = await startProxy(origin.url, { origin: { retries: 0 } })
    const all = await burstBehindOneFetch(origin, proxy, `${proxy.url}/broken`, 20)
    expect(all.every((r) => r.status === 502)).toBe(true)
    expect(origin.count).toBe(1)
  })

  it('waiters are bounded in time: past origin.timeoutMs they get 504, never hang', async () => {
    origin = await startOrigin(() => { /* never answers */ })
    proxy = await startProxy(origin.url, { origin: { timeoutMs: 300 } })
    const all = await Promise.all(Array.from({ length: 10 }, async () => await get(`${proxy.url}/slow`)))
    expect(all.map((r) => r.status)).toEqual(Array(10).fill(504))
    expect(origin.count).toBe(1)
  })

  it('waiters of a Vary response share it only when their variant matches', async () => {
    origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' })
      res.end(`lang=${req.headers['accept-language'] ?? ''}`)
    })
    proxy = await startProxy(origin.url)
    origin.hold()
    const en = get(`${proxy.url}/v`, { 'accept-language': 'en' })
    await origin.arrived(1)
    const others = [get(`${proxy.url}/v`, { 'accept-language': 'en' }), get(`${proxy.url}/v`, { 'accept-language': 'de' })]
    await expect.poll(async () => await coalescedWaiters(proxy), { timeout: 10_000 }).toBe(2)
    origin.release()
    const [a, b, c] = await Promise.all([en, ...others])
    expect(a?.body).toBe('lang=en')
    expect(b?.body).toBe('lang=en')
    expect(c?.body).toBe('lang=de')
  })
})

function countBy (values: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const v of values) out[v] = (out[v] ?? 0) + 1
  return out
}
