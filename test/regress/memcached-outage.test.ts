/**
 * Issue 13 item 7: a memcached outage must not multiply origin load. With memcached killed under load the origin saw
 * one request per URL per second per process, because L1 kept entries at most cache.memory.maxTtlSeconds (1 s) even
 * when memcached could not be asked; and the outage logged 16 identical warn lines and no recovery line.
 * docs/architecture.md, Lessons: "memcached down: each page reaches the origin at most once per freshness lifetime per process".
 *
 * The phases are bounded in time on purpose: what is measured is how often the origin is asked while time passes
 * under load, so the load runs for set spells (no sleep stands in for an event here).
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { startMemcached, type MemcachedProcess } from '../helpers/memcached.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { get, startProxy, type TestProxy } from '../helpers/proxy.js'

const FRESH_SECONDS = 3
const URLS = Array.from({ length: 10 }, (_, i) => `/page/${i}`)
const CLIENTS = 6
/** The proxy stamps storedAt a little before the origin's own clock reads the request (loopback, same host). */
const CLOCK_SLACK_MS = 150
const DOWN_LINE = /^memcached node down/
const UP_LINE = 'memcached node back up'

let memcached: MemcachedProcess | undefined
let origin: TestOrigin | undefined
let proxy: TestProxy | undefined
let running: ReturnType<typeof load> | undefined

afterEach(async () => {
  await running?.stop()
  await proxy?.close()
  await origin?.close()
  await memcached?.stop()
  proxy = origin = memcached = running = undefined
})

/** A bounded client loop: CLIENTS sequential clients over URLS, until `stop()`; counts answers that are not 200. */
function load (base: string): { stop: () => Promise<{ requests: number, errors: string[] }> } {
  const state = { on: true }
  let requests = 0
  const errors: string[] = []
  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    for (let i = c; state.on; i++) {
      const url = URLS[i % URLS.length] as string
      try {
        const res = await get(base + url)
        requests++
        if (res.status !== 200) errors.push(`${url}: ${res.status} ${res.headers['x-cache'] ?? ''}`)
      } catch (err) {
        errors.push(`${url}: ${(err as Error).message}`)
      }
    }
  })
  return {
    async stop () {
      state.on = false
      await Promise.all(clients)
      return { requests, errors }
    }
  }
}

/** Lets the load run for `ms` (see the file comment). */
async function underLoad (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

interface NodeReport { server: string, state: string, downSince: string | null, errors: number }

/** memcached's node state as /flags and /metrics report it. */
async function nodeReport (p: TestProxy): Promise<{ nodes: NodeReport[], metrics: string }> {
  const flags = await (await fetch(`${p.adminUrl}/flags`)).json() as { memcachedNodes: NodeReport[] }
  return { nodes: flags.memcachedNodes, metrics: await (await fetch(`${p.adminUrl}/metrics`)).text() }
}

describe.skipIf(inject('memcached') === null)('issue 13 item 7: a memcached outage', () => {
  it('is carried by L1: each page reaches the origin at most once per freshness lifetime, no client error, one line down and one back', async () => {
    memcached = await startMemcached()
    const arrivals = new Map<string, number[]>()
    origin = await startOrigin((req, res) => {
      const times = arrivals.get(req.url ?? '') ?? []
      times.push(Date.now())
      arrivals.set(req.url ?? '', times)
      // No Date header: its whole-second precision would age each answer by up to a second (RFC 9111 §4.2.3).
      res.sendDate = false
      res.writeHead(200, { 'cache-control': `public, max-age=${FRESH_SECONDS}`, 'content-type': 'text/plain' })
      res.end(`page ${req.url ?? ''}`)
    })
    proxy = await startProxy(origin.url, {
      cache: {
        memory: { maxTtlSeconds: 1 },
        memcached: { servers: [memcached.address], prefix: `outage${randomBytes(4).toString('hex')}:`, retryDownMs: 300 }
      },
      log: { level: 'info', access: false }
    })
    const server = memcached.address
    const logs = proxy.logs
    running = load(proxy.url)

    // memcached up: every page fetched once, L1's 1 s cap lapsing into memcached hits.
    await origin.arrived(URLS.length)
    await underLoad(1500)
    memcached.kill()
    // Down for longer than a freshness lifetime: each page expires once meanwhile and is refreshed once.
    await underLoad(FRESH_SECONDS * 1000 + 1500)
    for (const [url, times] of arrivals) {
      const gaps = times.slice(1).map((t, i) => t - (times[i] as number))
      // Refreshed as it expired (the load outlived one lifetime), and never sooner than one lifetime apart.
      expect({ url, refreshed: times.length >= 2 }).toEqual({ url, refreshed: true })
      for (const gap of gaps) expect({ url, gap, atLeast: gap >= FRESH_SECONDS * 1000 - CLOCK_SLACK_MS }).toMatchObject({ url, atLeast: true })
    }
    expect([...arrivals.keys()].sort()).toEqual([...URLS].sort())
    const downLines = logs.filter(l => DOWN_LINE.test(String(l['msg'])))
    expect(downLines).toHaveLength(1)
    expect(downLines[0]).toMatchObject({ server, level: 40 })
    // No other warn line about memcached: the operations in flight when it died are metrics, not log lines.
    expect(logs.filter(l => (l['level'] as number) >= 40 && /memcached/.test(String(l['msg'])))).toHaveLength(1)
    const down = await nodeReport(proxy)
    expect(down.nodes).toEqual([{ server, state: 'down', downSince: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string, errors: expect.any(Number) as number }])
    expect(down.metrics).toContain(`corral_memcached_up{server="${server}"} 0`)

    memcached = await startMemcached({ port: memcached.port })
    // Noticed by the store's own probe (every retryDownMs), whatever the traffic to memcached.
    await expect.poll(() => logs.filter(l => l['msg'] === UP_LINE).length, { timeout: 5000, interval: 20 }).toBe(1)
    expect(logs.filter(l => l['msg'] === UP_LINE)[0]).toMatchObject({ server, level: 30 })
    const { requests, errors } = await running.stop()
    running = undefined
    expect(errors).toEqual([])
    expect(requests).toBeGreaterThan(URLS.length * 10)

    // The node's state as operators see it: /flags and corral_memcached_up.
    const up = await nodeReport(proxy)
    expect(up.nodes).toEqual([{ server, state: 'up', downSince: null, errors: expect.any(Number) as number }])
    expect(up.nodes[0]?.errors).toBeGreaterThanOrEqual(1)
    expect(up.metrics).toContain(`corral_memcached_up{server="${server}"} 1`)
  }, 30_000)
})
