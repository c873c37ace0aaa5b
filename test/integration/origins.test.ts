/**
 * Issue 18: several origin servers per group: balancing, failover, passive and active health, routes to groups,
 * all-down answers, live reload of the server list. Real origin servers on loopback ports, a real proxy.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { parseConfig } from '../../src/config/load.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { TestClock, get, merge, startProxy, type Got, type TestProxy } from '../helpers/proxy.js'

// A loaded machine (CI, shared cores) may take seconds where an idle one takes milliseconds; a poll waits on an event.
const POLL = { timeout: 10_000 }
const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

/** A test origin that names itself in every body, so a test can tell which server answered. */
async function named (name: string, cacheControl = 'max-age=60'): Promise<TestOrigin> {
  const origin = await startOrigin((_req, res) => {
    res.writeHead(200, { 'cache-control': cacheControl, 'content-type': 'text/plain' })
    res.end(name)
  })
  closers.push(async () => await origin.close())
  return origin
}

/** An origin on a given port (so a test can kill it and bring it back at the same address), counting requests. */
async function onPort (port: number, name: string, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server, port: number, count: () => number, close: () => Promise<void> }> {
  let count = 0
  const server = createServer((req, res) => {
    count++
    if (handler !== undefined) return handler(req, res)
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.end(name)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const address = server.address()
  const bound = typeof address === 'object' && address !== null ? address.port : port
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  closers.push(close)
  return { server, port: bound, count: () => count, close }
}

/** A loopback port nothing listens on (connection refused). */
async function deadPort (): Promise<number> {
  const s = await onPort(0, 'dead')
  await s.close()
  return s.port
}

async function proxyFor (servers: unknown[], overrides: Record<string, unknown> = {}, clock?: TestClock): Promise<TestProxy> {
  const p = await startProxy('http://unused', merge({ origin: { url: undefined, servers } }, overrides), clock === undefined ? {} : { clock })
  closers.push(async () => await p.close())
  return p
}

async function originUp (p: TestProxy, server: string): Promise<number | undefined> {
  const metric = await p.proxy.metrics.originUp.get()
  return metric.values.find((v) => v.labels.server === server)?.value
}

async function serverCount (p: TestProxy, name: 'originServerRequests' | 'originServerErrors', server: string): Promise<number> {
  const metric = await p.proxy.metrics[name].get()
  return metric.values.filter((v) => v.labels.server === server).reduce((sum, v) => sum + v.value, 0)
}

async function flags (p: TestProxy): Promise<Record<string, Array<{ url: string, state: string, reason: string | null }>>> {
  const res = await fetch(`${p.adminUrl}/flags`)
  return ((await res.json()) as { origins: Record<string, Array<{ url: string, state: string, reason: string | null }>> }).origins
}

function downLines (p: TestProxy, server: string): Array<Record<string, unknown>> {
  return p.logs.filter((l) => l.msg === 'origin server down' && l.server === server)
}

/** `n` GETs of distinct keys under `prefix`, `concurrency` at a time. */
async function misses (url: string, prefix: string, n: number, concurrency = 1): Promise<Got[]> {
  const answers: Got[] = []
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++
      answers[i] = await get(`${url}${prefix}${i}`)
    }
  }))
  return answers
}

describe('balancing', () => {
  it('spreads misses over both servers, by weight', async () => {
    const a = await named('a')
    const b = await named('b')
    const even = await proxyFor([a.url, b.url])
    const answers = await misses(even.url, '/even/', 20)
    expect(answers.every((r) => r.status === 200)).toBe(true)
    expect([a.count, b.count]).toEqual([10, 10])
    const weighted = await proxyFor([{ url: a.url, weight: 3 }, b.url])
    await misses(weighted.url, '/weighted/', 20)
    expect([a.count - 10, b.count - 10]).toEqual([15, 5])
  })

  it('still sends one fill per key: a burst for a cold key reaches one server once', async () => {
    const a = await named('a')
    const b = await named('b')
    const p = await proxyFor([a.url, b.url])
    a.hold()
    b.hold()
    const burst = Array.from({ length: 50 }, async () => await get(`${p.url}/cold`))
    await expect.poll(() => a.count + b.count, POLL).toBe(1)
    await expect.poll(async () => (await p.proxy.metrics.coalescedWaiters.get()).values[0]?.value ?? 0, POLL).toBe(49)
    a.release()
    b.release()
    const answers = await Promise.all(burst)
    expect(answers.every((r) => r.status === 200)).toBe(true)
    expect(a.count + b.count).toBe(1)
  })
})

describe('failover', () => {
  it('a GET whose server refuses the connection is answered by the other server, and the refusing one is ejected', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`
    const b = await named('b')
    const p = await proxyFor([dead, b.url])
    const r = await get(`${p.url}/g`)
    expect(r.status).toBe(200)
    expect(r.body).toBe('b')
    expect(b.count).toBe(1)
    expect(await serverCount(p, 'originServerErrors', dead)).toBe(1)
    await expect.poll(() => downLines(p, dead).length).toBe(1)
    expect(downLines(p, dead)[0]).toMatchObject({ origin: 'origin', state: 'ejected', reason: 'connect-failure' })
    expect(await originUp(p, dead)).toBe(0)
    expect(await originUp(p, b.url)).toBe(1)
    expect((await flags(p)).origin).toMatchObject([{ url: dead, state: 'ejected', reason: 'connect-failure' }, { url: b.url, state: 'up', reason: null }])
  })

  it('never retries a POST, even on a connection refused', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`
    const b = await named('b')
    const p = await proxyFor([dead, b.url])
    const r = await get(`${p.url}/p`, {}, 'POST', 'x')
    expect(r.status).toBe(502)
    expect(b.count).toBe(0)
  })

  it('never retries after a timeout', async () => {
    const slow = await startOrigin(() => {})
    closers.push(async () => await slow.close())
    const b = await named('b')
    const p = await proxyFor([slow.url, b.url], { origin: { timeoutMs: 300 } })
    const r = await get(`${p.url}/t`)
    expect(r.status).toBe(504)
    expect(slow.count).toBe(1)
    expect(b.count).toBe(0)
    await expect.poll(() => downLines(p, slow.url).length).toBe(1)
    expect(downLines(p, slow.url)[0]).toMatchObject({ reason: 'timeout' })
  })
})

describe('a server killed under load', () => {
  it('costs no client error for GETs, is logged and measured down once per ejection, and takes load again once back', { timeout: 40_000 }, async () => {
    const a = await onPort(0, 'a')
    const b = await onPort(0, 'b')
    const aUrl = `http://127.0.0.1:${a.port}`
    const p = await proxyFor([aUrl, `http://127.0.0.1:${b.port}`], { origin: { health: { ejectMs: 1500, maxEjectMs: 3000 } } })
    const load = misses(p.url, '/load/', 200, 8)
    await expect.poll(() => a.count(), { timeout: 10_000 }).toBeGreaterThan(20)
    await a.close()
    const answers = await load
    expect(answers.filter((r) => r.status !== 200)).toEqual([])
    // One line per ejection, not per failed request: while ejected it gets no requests; each time its back-off ends
    // it is tried again, and a failure ejects it for twice as long.
    const lines = downLines(p, aUrl)
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.map((l) => l.backoffMs)).toEqual(lines.map((_l, i) => Math.min(3000, 1500 * 2 ** i)))
    expect(await originUp(p, aUrl)).toBe(0)

    const back = await onPort(a.port, 'a again')
    await expect.poll(async () => {
      await get(`${p.url}/back/${Math.random()}`)
      return back.count()
    }, { timeout: 10_000 }).toBeGreaterThan(0)
    expect(p.logs.some((l) => l.msg === 'origin server up' && l.server === aUrl)).toBe(true)
    expect(await originUp(p, aUrl)).toBe(1)
  })
})

describe('active probe', () => {
  it('marks down a server whose health path answers 503, and up again once it answers 200', async () => {
    let healthy = false
    const a = await onPort(0, 'a', (req, res) => {
      if (req.url === '/healthz') {
        res.writeHead(healthy ? 200 : 503)
        res.end()
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end('a')
    })
    const b = await named('b')
    const aUrl = `http://127.0.0.1:${a.port}`
    const p = await proxyFor([aUrl, b.url], { origin: { health: { path: '/healthz', intervalMs: 100, downAfter: 2, upAfter: 1 } } })
    await expect.poll(async () => (await flags(p)).origin?.[0]?.state, POLL).toBe('down')
    expect(downLines(p, aUrl)[0]).toMatchObject({ state: 'down', reason: 'probe' })
    const before = a.count()
    const answers = await misses(p.url, '/probed/', 6)
    expect(answers.map((r) => r.body)).toEqual(Array(6).fill('b'))
    // Only probes reached the server marked down.
    expect(a.count() - before).toBeLessThanOrEqual(answers.length)
    healthy = true
    await expect.poll(async () => (await flags(p)).origin?.[0]?.state, POLL).toBe('up')
    expect(p.logs.some((l) => l.msg === 'origin server up' && l.server === aUrl)).toBe(true)
  })

  it('ejects a server by its 5xx rate when errorRatePercent is set', async () => {
    const failing = await startOrigin((_req, res) => {
      res.writeHead(500)
      res.end('broken')
    })
    closers.push(async () => await failing.close())
    const b = await named('b')
    const p = await proxyFor([failing.url, b.url], { origin: { health: { errorRatePercent: 50, errorWindowRequests: 5, ejectMs: 60_000 } } })
    await misses(p.url, '/rate/', 10)
    expect(failing.count).toBe(5)
    expect((await flags(p)).origin?.[0]).toMatchObject({ state: 'ejected', reason: 'error-rate' })
    const after = await misses(p.url, '/after/', 5)
    expect(after.map((r) => r.body)).toEqual(Array(5).fill('b'))
    expect(await serverCount(p, 'originServerErrors', failing.url)).toBe(5)
  })
})

describe('all servers down', () => {
  it('serves a stale copy under stale-if-error, else 502 at once without trying a server', async () => {
    const clock = new TestClock()
    const a = await onPort(0, 'a', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=10, stale-if-error=600' })
      res.end('kept')
    })
    const b = await onPort(0, 'b', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=10, stale-if-error=600' })
      res.end('kept')
    })
    const urls = [`http://127.0.0.1:${a.port}`, `http://127.0.0.1:${b.port}`]
    const p = await proxyFor(urls, {}, clock)
    expect((await get(`${p.url}/page`)).body).toBe('kept')
    await a.close()
    await b.close()
    clock.advance(20_000)
    const stale = await get(`${p.url}/page`)
    expect(stale.status).toBe(200)
    expect(stale.headers['x-cache']).toBe('STALE')
    expect(stale.headers['cache-status']).toContain('detail=stale-if-error')
    await expect.poll(async () => (await flags(p)).origin?.map((s) => s.state)).toEqual(['ejected', 'ejected'])
    const sent = await serverCount(p, 'originServerRequests', urls[0] as string) + await serverCount(p, 'originServerRequests', urls[1] as string)
    const none = await get(`${p.url}/never-cached`)
    expect(none.status).toBe(502)
    expect(none.body).toBe('no healthy server in origin group "origin"\n')
    expect(await serverCount(p, 'originServerRequests', urls[0] as string) + await serverCount(p, 'originServerRequests', urls[1] as string)).toBe(sent)
    expect(p.logs.some((l) => l.code === 'CORRAL_ERR_ORIGIN_DOWN')).toBe(true)
    const errors = await p.proxy.metrics.originErrors.get()
    expect(errors.values.find((v) => v.labels.code === 'CORRAL_ERR_ORIGIN_DOWN')?.value).toBe(1)
  })
})

describe('routes to origin groups', () => {
  it('sends a route\'s misses and passes to its group, the rest to the default group', async () => {
    const a = await named('a')
    const api = await named('api')
    const p = await proxyFor([a.url], { origins: { api: { servers: [api.url] } }, routes: [{ match: '/api/', origin: 'api' }] })
    expect((await get(`${p.url}/api/users`)).body).toBe('api')
    expect((await get(`${p.url}/api/users`, {}, 'POST', '{}')).body).toBe('api')
    expect((await get(`${p.url}/home`)).body).toBe('a')
    expect(api.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /api/users', 'POST /api/users'])
    expect(a.requests.map((r) => r.url)).toEqual(['/home'])
  })

  it('sends a host\'s requests to its group with routes[].host', async () => {
    const a = await named('a')
    const api = await named('api')
    const p = await proxyFor([a.url], { origins: { api: { servers: [api.url] } }, routes: [{ match: '/', host: 'api.example.com', origin: 'api' }] })
    expect((await get(`${p.url}/users`, { host: 'API.example.com' })).body).toBe('api')
    expect((await get(`${p.url}/users`, { host: 'www.example.com' })).body).toBe('a')
    expect(api.requests.map((r) => r.headers.host)).toEqual(['api.example.com'])
  })
})

describe('reload', () => {
  it('applies a new server list live: a removed server finishes its request in flight, an added one takes the next', async () => {
    const a = await named('a', 'no-store')
    const b = await named('b')
    const p = await proxyFor([a.url])
    a.hold()
    const inFlight = get(`${p.url}/slow`)
    await a.arrived(1)
    const base = { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, log: { level: 'info' } }
    p.proxy.apply(parseConfig(JSON.stringify({ ...base, origin: { servers: [b.url], timeoutMs: 5000 } })))
    expect((await get(`${p.url}/new`)).body).toBe('b')
    expect((await flags(p)).origin?.map((s) => s.url)).toEqual([b.url])
    a.release()
    const drained = await inFlight
    expect(drained.status).toBe(200)
    expect(drained.body).toBe('a')
    expect(a.count).toBe(1)
    expect(p.logs.some((l) => l.msg === 'these keys take effect on restart only')).toBe(false)
  })
})
