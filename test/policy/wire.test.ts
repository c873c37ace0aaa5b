/**
 * Issue 14, the policy rules that reach the wire through today's fill: a counting origin, a corral proxy, a settable
 * clock. (Range, invalidation, HEAD freshening and only-if-cached need the miss-path wiring; their rules are unit
 * tested beside their modules.)
 */
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, TestClock, type TestProxy } from '../helpers/proxy.js'

const { opened } = closeAfterEach()
const clock = new TestClock()

async function start (headers: Record<string, string>, status = 200): Promise<{ origin: TestOrigin, proxy: TestProxy }> {
  const origin = opened(await startOrigin(answer(status, headers, 'body')))
  const proxy = opened(await startProxy(origin.url, { cache: { graceSeconds: 0 } }, { clock }))
  return { origin, proxy }
}

describe('issue 14 through real sockets', () => {
  it('RFC 9111 §3: a 503 with max-age=5 is served from cache for 5 s, then fetched again', async () => {
    const { origin, proxy } = await start({ 'cache-control': 'max-age=5' }, 503)
    expect((await get(`${proxy.url}/busy`)).status).toBe(503)
    clock.advance(4000)
    const hit = await get(`${proxy.url}/busy`)
    expect(hit.status).toBe(503)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(origin.count).toBe(1)
    clock.advance(2000)
    await get(`${proxy.url}/busy`)
    expect(origin.count).toBe(2)
  })

  it('RFC 9111 §5.2.2.4: no-cache="set-cookie" is stored, and the cookie never reaches a second client', async () => {
    const { origin, proxy } = await start({ 'cache-control': 'no-cache="set-cookie", max-age=60', 'set-cookie': 'sid=first-user' })
    // The leader's own answer is the miss path's business (the lead's rewrite gives it the origin's headers).
    await get(`${proxy.url}/c`)
    const second = await get(`${proxy.url}/c`)
    expect(second.headers['x-cache']).toBe('HIT')
    expect(second.headers['set-cookie']).toBeUndefined()
    expect(origin.count).toBe(1)
  })

  it('RFC 9111 §5.2: a directive named in mixed case counts (No-StOrE)', async () => {
    const { origin, proxy } = await start({ 'cache-control': 'max-age=60, No-StOrE' })
    await get(`${proxy.url}/n`)
    await get(`${proxy.url}/n`)
    expect(origin.count).toBe(2)
  })

  it('RFC 9213 §2.2: Corral-Cache-Control caches for corral while the client still gets Cache-Control: no-store', async () => {
    const { origin, proxy } = await start({ 'corral-cache-control': 'max-age=60', 'cache-control': 'no-store' })
    await get(`${proxy.url}/t`)
    const hit = await get(`${proxy.url}/t`)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['cache-control']).toBe('no-store')
    expect(origin.count).toBe(1)
  })

  it('RFC 9111 §4.2.3: an Age that is not one integer is not trusted: the response is not served fresh', async () => {
    const { origin, proxy } = await start({ 'cache-control': 'max-age=60', age: '5, 6' })
    await get(`${proxy.url}/a`)
    await get(`${proxy.url}/a`)
    expect(origin.count).toBe(2)
  })

  it('RFC 9111 §4.1: Accept-Language spellings that mean the same share one variant, and the origin sees the normalised value', async () => {
    const origin = opened(await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' })
      res.end(`al=${req.headers['accept-language'] ?? ''}`)
    }))
    const proxy = opened(await startProxy(origin.url, {}, { clock }))
    const a = await get(`${proxy.url}/l`, { 'accept-language': 'fr;q=0.50 , EN-us' })
    const b = await get(`${proxy.url}/l`, { 'accept-language': 'en-US,fr;q=0.5' })
    expect(a.body).toBe('al=en-us,fr;q=0.5')
    expect(b.body).toBe(a.body)
    expect(b.headers['x-cache']).toBe('HIT')
    expect(origin.count).toBe(1)
  })

  it('W3C Edge Architecture §2.1: fills advertise Surrogate-Capability, and Surrogate-Control governs corral\'s caching', async () => {
    let capability: string | undefined
    const origin = opened(await startOrigin((req, res) => {
      capability = req.headers['surrogate-capability'] as string | undefined
      res.writeHead(200, { 'surrogate-control': 'max-age=60;corral', 'cache-control': 'no-store' })
      res.end('s')
    }))
    const proxy = opened(await startProxy(origin.url, {}, { clock }))
    await get(`${proxy.url}/s`)
    expect((await get(`${proxy.url}/s`)).headers['x-cache']).toBe('HIT')
    expect(capability).toBe('corral="Surrogate/1.0"')
    expect(origin.count).toBe(1)
  })
})
