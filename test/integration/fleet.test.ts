/**
 * Issue 3, item 7: a fleet of proxies sharing a real memcached. "Two processes" are two in-process proxies (each has
 * its own L1, single-flight and memcached clients, which is all a process boundary changes), except where a proxy
 * must die mid-fetch: that one is a real child process, SIGKILLed. Every wait is a gate or a polled counter.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { MemcachedStore } from '../../src/store/memcached.js'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, TestClock, type Got, type TestProxy, coalescedWaiters } from '../helpers/proxy.js'
import { metricSum, readMetric, startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js'

const memcached = inject('memcached')
/** Every request names this host, so two proxies on different ports compute the same cache key. */
const HOST = 'site.test'

const cleanups: Array<() => Promise<void>> = []

afterEach(async () => {
  // Last started, first closed: proxies before the origin they hold sockets to.
  for (const close of cleanups.splice(0).reverse()) await close()
})

async function origin (handler: Parameters<typeof startOrigin>[0]): Promise<TestOrigin> {
  const o = await startOrigin(handler)
  cleanups.push(() => o.close())
  return o
}

interface FleetOptions {
  /** L1 lifetime; 0 sends every read to memcached. */
  maxTtlSeconds?: number
  leaseTtlMs?: number
  clock?: TestClock
  maxObjectBytes?: number
  originTimeoutMs?: number
}

/** A proxy in front of `o` on the shared memcached, in the key namespace `prefix` (the memcached is shared by the run). */
async function fleetProxy (o: TestOrigin, prefix: string, opts: FleetOptions = {}): Promise<TestProxy> {
  const cache: Record<string, unknown> = {
    memory: { maxTtlSeconds: opts.maxTtlSeconds ?? 60 },
    memcached: { servers: [memcached as string], prefix, timeoutMs: 1000, retryDownMs: 60_000, leaseTtlMs: opts.leaseTtlMs ?? 5000 }
  }
  if (opts.maxObjectBytes !== undefined) cache['maxObjectBytes'] = opts.maxObjectBytes
  const p = await startProxy(o.url, {
    origin: { url: o.url, timeoutMs: opts.originTimeoutMs ?? 5000, retries: 0 },
    log: { level: 'warn', access: false },
    cache
  }, opts.clock === undefined ? {} : { clock: opts.clock })
  cleanups.push(() => p.close())
  return p
}

function newPrefix (): string {
  return `fleet${randomBytes(4).toString('hex')}:`
}

/** A store of its own on the shared memcached, in namespace `prefix`: to look at or hold what the proxies share. */
function memcachedClient (prefix: string): MemcachedStore {
  return new MemcachedStore({ servers: [memcached as string], prefix, timeoutMs: 1000, retryDownMs: 60_000, maxItemBytes: 1024 * 1024 })
}

async function page (proxy: { url: string }, path: string, headers: Record<string, string> = {}): Promise<Got> {
  return await get(`${proxy.url}${path}`, { host: HOST, ...headers })
}

async function metrics (proxy: { adminUrl: string }): Promise<string> {
  return await (await fetch(`${proxy.adminUrl}/metrics`)).text()
}

async function leases (proxy: TestProxy, result: string): Promise<number> {
  return (await proxy.proxy.metrics.leases.get()).values.find((v) => v.labels['result'] === result)?.value ?? 0
}

describe.skipIf(memcached === null)('a fleet sharing memcached', () => {
  it('shares one copy: a page fetched through proxy A is a hit on proxy B', async () => {
    const o = await origin(answer(200, { 'cache-control': 'max-age=60' }, (n) => `shared ${n}`))
    const prefix = newPrefix()
    const a = await fleetProxy(o, prefix)
    const b = await fleetProxy(o, prefix)

    const first = await page(a, '/shared')
    expect(first.headers['x-cache']).toBe('MISS')
    const second = await page(b, '/shared')
    expect(second.status).toBe(200)
    expect(second.headers['x-cache']).toBe('HIT')
    expect(second.body).toBe('shared 1')
    expect(o.count).toBe(1)
  })

  it('500 concurrent cold requests split over two proxies reach the origin once', async () => {
    const o = await origin(answer(200, { 'cache-control': 'max-age=60' }, (n) => `front ${n}`))
    const prefix = newPrefix()
    const a = await fleetProxy(o, prefix)
    const b = await fleetProxy(o, prefix)
    o.hold()
    const burst = Array.from({ length: 500 }, async (_, i) => await page(i % 2 === 0 ? a : b, '/front'))
    // One proxy leads (lease acquired, its fetch held at the origin); the other's leader waits on the lease;
    // everyone else waits in-process behind their proxy's leader. Release only once all 500 are in.
    await o.arrived(1)
    await expect.poll(async () => await coalescedWaiters(a) + await coalescedWaiters(b), { timeout: 10_000 }).toBe(498)
    await expect.poll(async () => await leases(a, 'held') + await leases(b, 'held'), { timeout: 10_000 }).toBe(1)
    o.release()

    const all = await Promise.all(burst)
    expect(all.filter((r) => r.status !== 200)).toEqual([])
    expect(new Set(all.map((r) => r.body))).toEqual(new Set(['front 1']))
    expect(o.count).toBe(1)
    expect(await leases(a, 'acquired') + await leases(b, 'acquired')).toBe(1)
    expect(await leases(a, 'filled') + await leases(b, 'filled')).toBe(1)
    expect(await leases(a, 'takeover') + await leases(b, 'takeover')).toBe(0)
  })

  it('a stale-while-revalidate refresh is leased once across two proxies; everyone meanwhile gets STALE', async () => {
    const o = await origin(answer(200, { 'cache-control': 'max-age=1, stale-while-revalidate=30' }, (n) => `v${n}`))
    const prefix = newPrefix()
    const clock = new TestClock()
    // No L1: both proxies read the one copy in memcached, on the same clock.
    const a = await fleetProxy(o, prefix, { clock, maxTtlSeconds: 0 })
    const b = await fleetProxy(o, prefix, { clock, maxTtlSeconds: 0 })
    expect((await page(a, '/swr')).headers['x-cache']).toBe('MISS')
    expect((await page(b, '/swr')).headers['x-cache']).toBe('HIT')

    clock.advance(2000)
    o.hold()
    const burst = await Promise.all(Array.from({ length: 100 }, async (_, i) => await page(i % 2 === 0 ? a : b, '/swr')))
    expect(burst.filter((r) => r.status !== 200 || r.headers['x-cache'] !== 'STALE' || r.body !== 'v1')).toEqual([])
    // Each proxy starts one background refresh; one wins the lease and is held at the origin, the other waits on it.
    await o.arrived(2)
    await expect.poll(async () => await leases(a, 'held') + await leases(b, 'held'), { timeout: 10_000 }).toBe(1)
    o.release()
    await expect.poll(async () => await leases(a, 'filled') + await leases(b, 'filled'), { timeout: 10_000 }).toBe(1)

    expect(o.count).toBe(2)
    expect(await leases(a, 'takeover') + await leases(b, 'takeover')).toBe(0)
    const refreshes = metricSum(await metrics(a), 'corral_origin_requests_total', 'reason="refresh"') +
      metricSum(await metrics(b), 'corral_origin_requests_total', 'reason="refresh"')
    expect(refreshes).toBe(1)
    for (const p of [a, b]) {
      const after = await page(p, '/swr')
      expect(after.headers['x-cache']).toBe('HIT')
      expect(after.body).toBe('v2')
    }
  })

  it('waiters behind a proxy that waits on another proxy\'s fill of a Vary variant share that fill', async () => {
    const o = await origin((req, res, n) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' })
      res.end(`${req.headers['accept-language'] ?? ''} ${n}`)
    })
    const prefix = newPrefix()
    const a = await fleetProxy(o, prefix)
    // B has no L1: it reads the Vary index from memcached and looks the variant up by it.
    const b = await fleetProxy(o, prefix, { maxTtlSeconds: 0 })
    const en = { 'accept-language': 'en' }
    const de = { 'accept-language': 'de' }
    expect((await page(a, '/varied', en)).body).toBe('en 1')
    expect((await page(b, '/varied', en)).headers['x-cache']).toBe('HIT')

    // A leads the de variant fleet-wide and is held at the origin; B's leader waits on A's lease, and B's other
    // requests wait in-process behind it.
    o.hold()
    const leader = page(a, '/varied', de)
    await o.arrived(2)
    const followers = Array.from({ length: 10 }, async () => await page(b, '/varied', de))
    await expect.poll(async () => await coalescedWaiters(b), { timeout: 10_000 }).toBe(9)
    await expect.poll(async () => await leases(b, 'held'), { timeout: 10_000 }).toBe(1)
    o.release()

    expect((await leader).body).toBe('de 2')
    const answers = await Promise.all(followers)
    expect(answers.map((r) => [r.status, r.headers['x-cache'], r.body])).toEqual(Array.from({ length: 10 }, () => [200, 'HIT', 'de 2']))
    expect(await leases(b, 'filled')).toBe(1)
    expect(o.count).toBe(2)
  })

  it('a 2 MB page (maxObjectBytes 4 MB) is stored in memcached as chunks: a second proxy hits it', async () => {
    const big = 'x'.repeat(2 * 1024 * 1024)
    const o = await origin(answer(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, big))
    const prefix = newPrefix()
    const options = { maxObjectBytes: 4 * 1024 * 1024 }
    const a = await fleetProxy(o, prefix, options)
    const b = await fleetProxy(o, prefix, options)

    const first = await page(a, '/big')
    expect(first.status).toBe(200)
    expect(first.headers['x-cache']).toBe('MISS')
    expect(first.body).toBe(big)
    // The answer streamed while it filled (issue 22), ahead of the store write; the other proxy's request waits on the
    // lease until that write has landed, so it comes first here.
    const elsewhere = await page(b, '/big')
    // memcached's 1 MB item limit no longer keeps it out: a head plus chunks (store/chunks.ts)…
    expect(metricSum(await metrics(a), 'corral_memcached_skips_total', 'reason="too-large"')).toBe(0)
    expect(metricSum(await metrics(a), 'corral_chunked_entries_total', 'op="stored"')).toBe(1)
    // …that the other proxy reads whole.
    expect(elsewhere.status).toBe(200)
    expect(elsewhere.headers['x-cache']).toBe('HIT')
    expect(elsewhere.body).toBe(big)
    expect(metricSum(await metrics(b), 'corral_chunked_entries_total', 'op="read"')).toBe(1)
    expect(o.count).toBe(1)
  })

  it('purge on one proxy evicts a page and its Vary variants from memcached and that proxy\'s L1', async () => {
    const o = await origin((req, res, n) => {
      res.writeHead(200, { 'cache-control': 'max-age=300', vary: 'Accept-Language' })
      res.end(`${req.headers['accept-language'] ?? ''} ${n}`)
    })
    const prefix = newPrefix()
    // A keeps copies in L1 (so the purge must reach it); B has no L1 and sees exactly what memcached holds.
    const a = await fleetProxy(o, prefix, { maxTtlSeconds: 60 })
    const b = await fleetProxy(o, prefix, { maxTtlSeconds: 0 })
    const en = { 'accept-language': 'en' }
    const de = { 'accept-language': 'de' }
    expect((await page(a, '/news', en)).body).toBe('en 1')
    expect((await page(a, '/news', de)).body).toBe('de 2')
    for (const p of [a, b]) {
      for (const [headers, body] of [[en, 'en 1'], [de, 'de 2']] as const) {
        const r = await page(p, '/news', headers)
        expect([r.headers['x-cache'], r.body]).toEqual(['HIT', body])
      }
    }

    const purged = await fetch(`${a.adminUrl}/purge?url=${encodeURIComponent(`http://${HOST}/news`)}`, { method: 'POST' })
    expect(purged.status).toBe(200)
    // A's L1 lost its copy: a miss, not the old 'en 1'.
    const onA = await page(a, '/news', en)
    expect([onA.headers['x-cache'], onA.body]).toEqual(['MISS', 'en 3'])
    // memcached lost the other variant too (B reads memcached only).
    const onB = await page(b, '/news', de)
    expect([onB.headers['x-cache'], onB.body]).toEqual(['MISS', 'de 4'])

    // The path-only form names the host separately.
    const byPath = await fetch(`${a.adminUrl}/purge?url=${encodeURIComponent('/news')}&host=${HOST}`, { method: 'POST' })
    expect(byPath.status).toBe(200)
    const afterPathPurge = await page(b, '/news', en)
    expect([afterPathPurge.headers['x-cache'], afterPathPurge.body]).toEqual(['MISS', 'en 5'])
    expect(o.count).toBe(5)
  })

  it('a lease lasts at least leaseTtlMs although memcached expires items on whole-second ticks', async () => {
    // A lease that dies before its TTL lets a second process fetch while the leader is still fetching. Lower bound
    // only (a slow machine makes it longer, never shorter); without leaseExpirySeconds' extra second it lived 150-820 ms.
    const prefix = newPrefix()
    const holder = memcachedClient(prefix)
    const store = memcachedClient(prefix)
    try {
      expect(await holder.tryLease('site.test/lease', 1000)).toBe('acquired')
      const taken = performance.now()
      // A live holder renews its lease: closed, it stops, as a dead process would, and the lease's own lifetime shows.
      await holder.close()
      await expect.poll(async () => await store.tryLease('site.test/lease', 1000), { timeout: 5000, interval: 20 }).toBe('acquired')
      expect(performance.now() - taken).toBeGreaterThanOrEqual(950)
    } finally {
      await holder.close()
      await store.close()
    }
  })

  it('a leader whose fill outlasts leaseTtlMs keeps its lease: the follower waits for the fill, the origin is asked once', async () => {
    const o = await origin(answer(200, { 'cache-control': 'max-age=60' }, (n) => `slow ${n}`))
    const prefix = newPrefix()
    const a = await fleetProxy(o, prefix, { leaseTtlMs: 1000 })
    const b = await fleetProxy(o, prefix, { leaseTtlMs: 1000 })
    o.hold()
    const fromA = page(a, '/slow')
    await o.arrived(1)
    const fromB = page(b, '/slow')
    await expect.poll(async () => await leases(b, 'held'), { timeout: 10_000 }).toBe(1)
    // A witness item with the lease's lifetime (leaseExpirySeconds(1000) = expirySeconds(2000) = 2 s), stored after
    // the lease was taken: once memcached has expired it, a lease that was not renewed has expired too.
    const side = memcachedClient(prefix)
    try {
      const record = { kind: 'vary', key: 'witness', varyHeaders: ['accept'], epoch: 'e', storedAt: 0 } as const
      await side.set('witness', record, 2000)
      expect(await side.get('witness')).toEqual(record)
      await expect.poll(async () => await side.get('witness'), { timeout: 10_000, interval: 50 }).toBeUndefined()
      // Past the lease's own lifetime, A still holds it.
      expect(await side.tryLease(`${HOST}/slow`, 1000)).toBe('held')
    } finally {
      await side.close()
    }
    expect(o.count).toBe(1)
    o.release()

    const [first, second] = await Promise.all([fromA, fromB])
    expect([first.status, first.body, second.status, second.body]).toEqual([200, 'slow 1', 200, 'slow 1'])
    expect(o.count).toBe(1)
    expect(await leases(a, 'acquired')).toBe(1)
    expect(await leases(b, 'takeover')).toBe(0)
    expect(await leases(b, 'filled')).toBe(1)
  })

  describe('a leader that dies mid-fetch', () => {
    let leader: ProxyProcess | undefined

    afterEach(async () => {
      await leader?.stop()
      leader = undefined
    })

    it('is taken over by another proxy once its lease expires; every client of the survivor gets 200', async () => {
      const o = await origin(answer(200, { 'cache-control': 'max-age=60' }, (n) => `body ${n}`))
      const prefix = newPrefix()
      const memcachedConfig = { servers: [memcached as string], prefix, timeoutMs: 1000, retryDownMs: 60_000, leaseTtlMs: 1000 }
      leader = await startProxyProcess({
        origin: { url: o.url, timeoutMs: 3000, retries: 0 },
        cache: { memcached: memcachedConfig }
      })
      const survivor = await fleetProxy(o, prefix, { leaseTtlMs: 1000, originTimeoutMs: 3000 })

      o.hold()
      const orphan = page(leader, '/article').then((r) => r.status, () => 'connection lost')
      await o.arrived(1)
      expect(await readMetric(leader.adminUrl, 'corral_leases_total{result="acquired"}')).toBe(1)
      await leader.kill('SIGKILL')
      expect(await orphan).toBe('connection lost')
      // The dead leader's origin request is answered into a closed socket; later requests go straight through.
      o.release()

      const answers = await Promise.all(Array.from({ length: 20 }, async () => await page(survivor, '/article')))
      expect(answers.filter((r) => r.status !== 200)).toEqual([])
      expect(new Set(answers.map((r) => r.body))).toEqual(new Set(['body 2']))
      expect(o.count).toBe(2)
      expect(await leases(survivor, 'held')).toBe(1)
      expect(await leases(survivor, 'takeover')).toBe(1)
      expect(metricSum(await metrics(survivor), 'corral_leases_total', 'result="takeover"')).toBe(1)
      expect(await coalescedWaiters(survivor)).toBe(19)
    })
  })
})
