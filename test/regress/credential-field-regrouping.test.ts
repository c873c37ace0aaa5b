/**
 * Issue 23, item 3: no request can switch coalescing off for others. An origin that personalises on X-Api-Key (or
 * X-Auth-Token, X-Access-Token, X-CSRF-Token, Cookie2, a field the operator names) answers that request `private`;
 * before, its waiters then went to the origin one by one and the URL was remembered as hit-for-pass, so the next
 * 100 anonymous requests cost 41-101 origin requests instead of 2. Now the waiters regroup behind an anonymous leader,
 * and hit-for-pass is remembered only when an anonymous request's answer is uncacheable too.
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

/** `/spike`: public for everyone, `private` for a request carrying `field` (in any spelling node hands over). */
function personalisingOn (field: string): OriginHandler {
  const lower = field.toLowerCase()
  return (req, res) => {
    const personal = req.headers[lower] !== undefined
    res.writeHead(200, { 'cache-control': personal ? 'private, max-age=60' : 'public, s-maxage=60', 'content-type': 'text/plain' })
    res.end(personal ? 'for you' : 'for everyone')
  }
}

async function origin (handler: OriginHandler): Promise<TestOrigin> {
  const o = await startOrigin(handler)
  cleanups.push(() => o.close())
  return o
}

async function proxy (o: TestOrigin, overrides: Record<string, unknown> = {}): Promise<TestProxy> {
  const p = await startProxy(o.url, { log: { level: 'warn', access: false }, ...overrides })
  cleanups.push(() => p.close())
  return p
}

function expectShared (answers: Got[]): void {
  for (const a of answers) {
    expect(a.status).toBe(200)
    expect(a.body).toBe('for everyone')
    expect(a.headers['x-cache']).not.toBe('PASS')
  }
}

const FIELDS: Array<[string, Record<string, unknown>]> = [
  ['X-Api-Key', {}], ['X-Auth-Token', {}], ['X-Access-Token', {}], ['X-CSRF-Token', {}], ['Cookie2', {}],
  ['X-Tenant', { cache: { credentialHeaders: ['X-Tenant'] } }]
]

describe('a leader whose answer was made for its own credential-like field', () => {
  it.each(FIELDS)('%s: 30 anonymous waiters regroup behind one new leader: 2 origin requests, no hit-for-pass', async (field, overrides) => {
    const o = await origin(personalisingOn(field))
    const p = await proxy(o, overrides)
    o.hold()
    const mine = get(`${p.url}/spike`, { [field]: 'secret-1' })
    await o.arrived(1)
    const anonymous = Array.from({ length: 30 }, async () => await get(`${p.url}/spike`))
    await expect.poll(async () => await coalescedWaiters(p), { timeout: 10_000 }).toBe(30)
    o.release()
    expect((await mine).body).toBe('for you')
    expectShared(await Promise.all(anonymous))
    expect(o.count).toBe(2)
    expect(o.requests[1]?.headers[field.toLowerCase()]).toBeUndefined()
    // The URL is stored for everyone and was never remembered as uncacheable.
    const after = await get(`${p.url}/spike`)
    expect(after.headers['x-cache']).toBe('HIT')
    expect(o.count).toBe(2)
  })

  it('an anonymous request whose answer is uncacheable too is remembered as hit-for-pass, as before', async () => {
    const o = await origin((_req, res) => { res.writeHead(200, { 'cache-control': 'private' }); res.end('never shared') })
    const p = await proxy(o)
    await get(`${p.url}/spike`, { 'x-api-key': 'k' })
    const first = await get(`${p.url}/spike`)
    expect(first.headers['x-cache']).toBe('MISS')
    const second = await get(`${p.url}/spike`)
    expect(second.headers['cache-status']).toMatch(/hit-for-pass/)
  })

  it.runIf(memcached !== null)('over two proxies sharing memcached: X-Api-Key and X-Auth-Token leaders on one, anonymous bursts on both, 2 origin requests', async () => {
    for (const field of ['X-Api-Key', 'X-Auth-Token']) {
      const o = await origin(personalisingOn(field))
      const prefix = `i23${randomBytes(4).toString('hex')}:`
      const fleet = { cache: { memory: { maxTtlSeconds: 60 }, memcached: { servers: [memcached as string], prefix, timeoutMs: 1000, retryDownMs: 60_000, leaseTtlMs: 5000 } } }
      const a = await proxy(o, fleet)
      const b = await proxy(o, fleet)
      o.hold()
      const mine = get(`${a.url}/spike`, { host: HOST, [field]: 'secret' })
      await o.arrived(1)
      const onA = Array.from({ length: 20 }, async () => await get(`${a.url}/spike`, { host: HOST }))
      const onB = Array.from({ length: 20 }, async () => await get(`${b.url}/spike`, { host: HOST }))
      await expect.poll(async () => await coalescedWaiters(a), { timeout: 10_000 }).toBe(20)
      await expect.poll(async () => await coalescedWaiters(b), { timeout: 10_000 }).toBe(19)
      o.release()
      expect((await mine).body).toBe('for you')
      expectShared([...await Promise.all(onA), ...await Promise.all(onB)])
      expect(o.count).toBe(2)
    }
  })
})
