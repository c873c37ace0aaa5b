/**
 * Issue 3, item 7: memcached failing under a proxy is never a client error. Real memcached processes, killed with
 * SIGKILL while requests are in flight; the proxy has no L1 (maxTtlSeconds 0) so every request reads memcached.
 */
import { afterEach, describe, expect, inject, it } from 'vitest'
import { startMemcached, freePort, type MemcachedProcess } from '../helpers/memcached.js'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, type Got, type TestProxy, coalescedWaiters } from '../helpers/proxy.js'
import { metricSum } from '../helpers/proxy-process.js'

// Tests here start their own memcached nodes; the shared one only tells whether memcached is installed (CI: always).
const installed = inject('memcached') !== null
const HOST = 'site.test'
const URLS = Array.from({ length: 40 }, (_, i) => `/item/${i}`)

let origin: TestOrigin | undefined
let proxy: TestProxy | undefined
const nodes: MemcachedProcess[] = []

afterEach(async () => {
  await proxy?.close()
  await origin?.close()
  proxy = undefined
  origin = undefined
  for (const node of nodes.splice(0)) await node.stop()
})

async function startNode (): Promise<MemcachedProcess> {
  const node = await startMemcached()
  nodes.push(node)
  return node
}

async function proxyOn (o: TestOrigin, servers: string[]): Promise<TestProxy> {
  return await startProxy(o.url, {
    origin: { url: o.url, timeoutMs: 5000, retries: 0 },
    log: { level: 'error', access: false },
    cache: {
      memory: { maxTtlSeconds: 0 },
      memcached: { servers, prefix: 'fail:', timeoutMs: 1000, retryDownMs: 60_000, leaseTtlMs: 5000 }
    }
  })
}

async function metrics (p: TestProxy): Promise<string> {
  return await (await fetch(`${p.adminUrl}/metrics`)).text()
}

async function batch (p: TestProxy, from: number, size: number): Promise<Got[]> {
  return await Promise.all(Array.from({ length: size }, async (_, i) =>
    await get(`${p.url}${URLS[(from + i) % URLS.length] as string}`, { host: HOST })))
}

describe.skipIf(!installed)('memcached failures under load', () => {
  it('one of two memcached nodes killed under load: zero non-200 answers, and the survivor keeps serving its keys', async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=300' }, 'item'))
    const [one, two] = [await startNode(), await startNode()]
    proxy = await proxyOn(origin, [one.address, two.address])

    // Warm every URL into memcached, then read them all back from it: the origin is not asked again.
    expect((await batch(proxy, 0, URLS.length)).every((r) => r.status === 200)).toBe(true)
    expect(origin.count).toBe(URLS.length)
    const warm = await batch(proxy, 0, URLS.length)
    expect(warm.map((r) => r.headers['x-cache'])).toEqual(URLS.map(() => 'HIT'))
    expect(origin.count).toBe(URLS.length)

    const BATCH = 50
    const TOTAL = 2000
    const statuses = new Map<number, number>()
    let sent = 0
    for (let b = 0; sent < TOTAL; b++) {
      const inFlight = batch(proxy, sent, BATCH)
      // Mid-batch: requests are already reading memcached when the node goes away.
      if (b === 10) one.kill()
      for (const r of await inFlight) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
      sent += BATCH
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: TOTAL })

    // The dead node was really in use: its errors were counted and its keys went back to the origin…
    const text = await metrics(proxy)
    expect(metricSum(text, 'corral_memcached_errors_total', `server="${one.address}"`)).toBeGreaterThan(0)
    expect(metricSum(text, 'corral_memcached_skips_total', 'reason="node-down"')).toBeGreaterThan(0)
    expect(metricSum(text, 'corral_memcached_errors_total', `server="${two.address}"`)).toBe(0)
    expect(origin.count).toBeGreaterThan(URLS.length)
    // …while the survivor's keys are still hits.
    const after = await batch(proxy, 0, URLS.length)
    expect(after.every((r) => r.status === 200)).toBe(true)
    expect(after.filter((r) => r.headers['x-cache'] === 'HIT').length).toBeGreaterThan(0)
    expect(after.filter((r) => r.headers['x-cache'] === 'MISS').length).toBeGreaterThan(0)
  })

  it('no memcached reachable at all: the proxy degrades to origin + in-process coalescing and answers 200', async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=300' }, 'page'))
    // A port nothing listens on.
    proxy = await proxyOn(origin, [`127.0.0.1:${await freePort()}`])
    origin.hold()
    // 100 requests over the 40 URLs: the lease cannot be decided, so each process leads each URL once and the
    // 60 repeats wait in-process for their URL's leader.
    const pending = batch(proxy, 0, 100)
    await origin.arrived(URLS.length)
    const p = proxy
    await expect.poll(async () => await coalescedWaiters(p), { timeout: 10_000 }).toBe(100 - URLS.length)
    origin.release()
    const answers = await pending
    expect(answers.filter((r) => r.status !== 200)).toEqual([])
    expect(origin.count).toBe(URLS.length)
    const text = await metrics(proxy)
    expect(metricSum(text, 'corral_memcached_errors_total')).toBeGreaterThan(0)
    expect(metricSum(text, 'corral_leases_total', 'result="unavailable"')).toBeGreaterThan(0)
    expect(metricSum(text, 'corral_leases_total', 'result="held"')).toBe(0)
  })
})
