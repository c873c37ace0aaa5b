/**
 * Issue 13, item 1: one cookie must not switch coalescing off (Varnish's hit-for-pass poisoning). The origin adds
 * Set-Cookie only when the request carries a Cookie, so the leader's answer is uncacheable because of the leader's own
 * request: its anonymous waiters coalesce again behind one new leader, the URL is not remembered as hit-for-pass, and
 * the burst costs the origin what an anonymous burst costs plus the cookie request itself. Before the fix: 151 origin
 * requests for 1 cookie request + 150 anonymous ones, every anonymous client answered `PASS; detail=hit-for-pass`.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { startOrigin, type OriginHandler, type TestOrigin } from '../helpers/origin.js'
import { coalescedWaiters, get, startProxy, type Got, type TestProxy } from '../helpers/proxy.js'

const memcached = inject('memcached')
const HOST = 'spike.test'
const cleanups: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close()
})

/** `/spike`: public, s-maxage=2, and a Set-Cookie only for a request that sent a Cookie. */
const spikeOrigin: OriginHandler = (req, res) => {
  const headers: Record<string, string> = { 'cache-control': 'public, s-maxage=2', 'content-type': 'text/plain' }
  if (req.headers.cookie !== undefined) headers['set-cookie'] = 'sid=renewed'
  res.writeHead(200, headers)
  res.end(req.headers.cookie !== undefined ? 'for you' : 'for everyone')
}

async function origin (): Promise<TestOrigin> {
  const o = await startOrigin(spikeOrigin)
  cleanups.push(() => o.close())
  return o
}

async function proxy (o: TestOrigin, overrides: Record<string, unknown> = {}): Promise<TestProxy> {
  const p = await startProxy(o.url, { log: { level: 'warn', access: false }, ...overrides })
  cleanups.push(() => p.close())
  return p
}

async function leases (p: TestProxy, result: string): Promise<number> {
  const metric = await p.proxy.metrics.leases.get()
  return metric.values.find((v) => v.labels.result === result)?.value ?? 0
}

function expectNoPass (answers: Got[]): void {
  for (const a of answers) {
    expect(a.status).toBe(200)
    expect(a.body).toBe('for everyone')
    expect(a.headers['cache-status']).not.toMatch(/hit-for-pass/)
    expect(a.headers['x-cache']).not.toBe('PASS')
  }
}

describe('issue 13.1: a cookie-bearing leader does not turn coalescing off', () => {
  it('one cookie request then 150 anonymous ones: 2 origin requests, every anonymous client shares one fill', async () => {
    const o = await origin()
    const p = await proxy(o)
    o.hold()
    const withCookie = get(`${p.url}/spike`, { cookie: 'sid=x' })
    await o.arrived(1)
    const anonymous = Array.from({ length: 150 }, async () => await get(`${p.url}/spike`))
    await expect.poll(async () => await coalescedWaiters(p), { timeout: 10_000 }).toBe(150)
    // The cookie leader's answer releases its waiters; one of them leads again, and is held at the origin in turn.
    o.release(true)
    await o.arrived(2)
    await expect.poll(async () => await coalescedWaiters(p), { timeout: 10_000 }).toBe(150 + 149)
    o.release()
    const mine = await withCookie
    expect(mine.body).toBe('for you')
    expect(mine.headers['set-cookie']).toBeDefined()
    const answers = await Promise.all(anonymous)
    expectNoPass(answers)
    expect(answers.filter((a) => a.headers['x-cache'] === 'HIT')).toHaveLength(149)
    expect(o.count).toBe(2)
    expect(o.requests[1]?.headers.cookie).toBeUndefined()
    // Stored for everyone, and the URL was never remembered as uncacheable.
    const after = await get(`${p.url}/spike`)
    expect(after.headers['x-cache']).toBe('HIT')
    expect(o.count).toBe(2)
  })

  it('a waiter with a cookie of its own goes to the origin alone; anonymous waiters still share', async () => {
    const o = await origin()
    const p = await proxy(o)
    o.hold()
    const leader = get(`${p.url}/spike`, { cookie: 'sid=a' })
    await o.arrived(1)
    const other = get(`${p.url}/spike`, { cookie: 'sid=b' })
    const anonymous = Array.from({ length: 10 }, async () => await get(`${p.url}/spike`))
    await expect.poll(async () => await coalescedWaiters(p), { timeout: 10_000 }).toBe(11)
    o.release()
    expect((await leader).body).toBe('for you')
    const b = await other
    expect(b.body).toBe('for you')
    expect(b.headers['cache-status']).toMatch(/fwd=bypass/)
    expectNoPass(await Promise.all(anonymous))
    expect(o.count).toBe(3)
  })

  it.runIf(memcached !== null)('two processes over memcached leases: a cookie-bearing leader on one does not send the other\'s waiters to the origin', async () => {
    const o = await origin()
    const prefix = `i13${randomBytes(4).toString('hex')}:`
    const fleet = { cache: { memory: { maxTtlSeconds: 60 }, memcached: { servers: [memcached as string], prefix, timeoutMs: 1000, retryDownMs: 60_000, leaseTtlMs: 5000 } } }
    const a = await proxy(o, fleet)
    const b = await proxy(o, fleet)
    o.hold()
    const withCookie = get(`${a.url}/spike`, { host: HOST, cookie: 'sid=x' })
    await o.arrived(1)
    await expect.poll(async () => await leases(a, 'acquired')).toBe(1)
    const onA = Array.from({ length: 50 }, async () => await get(`${a.url}/spike`, { host: HOST }))
    const onB = Array.from({ length: 50 }, async () => await get(`${b.url}/spike`, { host: HOST }))
    await expect.poll(async () => await coalescedWaiters(a), { timeout: 10_000 }).toBe(50)
    await expect.poll(async () => await coalescedWaiters(b), { timeout: 10_000 }).toBe(49)
    // B's leader follows A's lease: it found the lease held and polls memcached for A's fill.
    await expect.poll(async () => await leases(b, 'held'), { timeout: 10_000 }).toBeGreaterThan(0)
    o.release(true)
    await o.arrived(2)
    o.release()
    expect((await withCookie).body).toBe('for you')
    expectNoPass([...await Promise.all(onA), ...await Promise.all(onB)])
    expect(o.count).toBe(2)
  })
})
