/**
 * Issue 16 item 8: listen.drainDelayMs. After SIGTERM (proxy.close) the health path answers 503 for that long while
 * requests are still served; then the listener closes and requests in flight finish.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { answer, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { get, startProxy, type TestProxy } from '../helpers/proxy.js'
import { probe } from '../helpers/config-file.js'
import { Client, Pool } from 'undici'

describe('drain delay', () => {
  let origin: TestOrigin
  let proxy: TestProxy
  beforeAll(async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'no-store' }, 'from origin'))
    proxy = await startProxy(origin.url, { listen: { drainDelayMs: 1000 } })
  })
  afterAll(async () => {
    await origin.close()
  })

  it('health answers 503 while requests are still served, then the listener closes after the in-flight one finishes', async () => {
    expect(await probe(`${proxy.url}/__corral/health`)).toBe(200)
    origin.hold()
    const inFlight = get(`${proxy.url}/slow`)
    await origin.arrived(1)
    let closed = false
    const closing = proxy.proxy.close(5000, proxy.proxy.loaded.config.listen.drainDelayMs).then(() => { closed = true })
    // Within the delay: the balancer's probe sees 503, traffic still gets answers (from the origin, here).
    expect(await probe(`${proxy.url}/__corral/health`)).toBe(503)
    expect(await probe(`${proxy.adminUrl}/health`)).toBe(503)
    // A request arriving during the delay is still taken (the listener is open) and reaches the origin.
    const during = get(`${proxy.url}/during`)
    await origin.arrived(2)
    expect(closed).toBe(false)
    origin.release()
    expect((await during).status).toBe(200)
    // The request that was under way when SIGTERM came finishes; then close resolves and the port refuses.
    expect((await inFlight).status).toBe(200)
    await closing
    expect(await probe(`${proxy.url}/__corral/health`)).toBe(0)
  })
})

/** One client loop's tally: answers by status, errors by code, and whether an answer said Connection: close. */
interface Tally { statuses: Map<number, number>, errors: Map<string, number>, closeHeaders: number, refused: number }

/**
 * Issue 26, friction 3: SIGTERM under load with drainDelayMs 0 gave ECONNRESET and UND_ERR_SOCKET on requests already
 * sent. Now every request in flight finishes, busy connections are answered with Connection: close, idle ones are
 * closed only once they are idle for real, and a client's only refusal is at connect (ECONNREFUSED: nothing sent).
 */
describe('SIGTERM under load (drainDelayMs 0)', () => {
  it('finishes every request in flight with 0 client errors; busy connections get Connection: close', async () => {
    const origin = await startOrigin((_req, res) => {
      // A little origin time, so requests are in flight on every connection when the drain starts.
      setTimeout(() => { res.writeHead(200, { 'cache-control': 'no-store' }).end('page') }, 2)
    })
    const proxy = await startProxy(origin.url, { listen: { drainDelayMs: 0 } })
    const pool = new Pool(proxy.url, { connections: 16, pipelining: 1 })
    const tally: Tally = { statuses: new Map(), errors: new Map(), closeHeaders: 0, refused: 0 }
    let answered = 0
    let drainStarted: () => void = () => {}
    const started = new Promise<void>((resolve) => { drainStarted = resolve })
    let closing: Promise<void> | null = null
    const loop = async (worker: number): Promise<void> => {
      // Bounded: each loop ends on its refusal at connect, or after 5000 requests.
      for (let i = 0; i < 5000; i++) {
        try {
          const res = await pool.request({ path: `/p/${worker}/${i}`, method: 'GET' })
          await res.body.text()
          tally.statuses.set(res.statusCode, (tally.statuses.get(res.statusCode) ?? 0) + 1)
          if (closing !== null && res.headers.connection === 'close') tally.closeHeaders++
          if (++answered === 400) drainStarted()
        } catch (err) {
          const code = (err as { code?: string }).code ?? String(err)
          if (code === 'ECONNREFUSED') {
            tally.refused++
            return
          }
          tally.errors.set(code, (tally.errors.get(code) ?? 0) + 1)
          return
        }
      }
    }
    const loops = Array.from({ length: 16 }, async (_, w) => { await loop(w) })
    await started
    closing = proxy.proxy.close(5000, 0)
    // Health is 503 at once (the admin listener closes last).
    expect(await probe(`${proxy.adminUrl}/health`)).toBe(503)
    await Promise.all(loops)
    await closing
    await pool.close()
    await origin.close()
    expect(Object.fromEntries(tally.errors)).toEqual({})
    expect([...tally.statuses.keys()]).toEqual([200])
    // Every loop ended at a refused connect, after its last connection was closed with a Connection: close answer.
    expect(tally.refused).toBe(16)
    expect(tally.closeHeaders).toBeGreaterThan(0)
  })

  it('answers a request in flight with Connection: close, and closes an idle keep-alive connection without a reset', async () => {
    const origin = await startOrigin(answer(200, { 'cache-control': 'no-store' }, 'from origin'))
    const proxy = await startProxy(origin.url, { listen: { drainDelayMs: 0 } })
    const idle = new Client(proxy.url)
    let idleClosedByServer = 0
    idle.on('disconnect', () => { idleClosedByServer++ })
    // A keep-alive connection, answered, now idle.
    expect((await idle.request({ path: '/idle', method: 'GET' })).statusCode).toBe(200)
    const busy = new Client(proxy.url)
    origin.hold()
    const inFlight = busy.request({ path: '/slow', method: 'GET' })
    await origin.arrived(2)
    const closing = proxy.proxy.close(5000, 0)
    origin.release()
    const res = await inFlight
    expect(res.statusCode).toBe(200)
    expect(res.headers.connection).toBe('close')
    expect(await res.body.text()).toBe('from origin')
    await closing
    // The idle connection was closed by the server: the drain waited for it to be idle for real, then ended it.
    await expect.poll(() => idleClosedByServer, { timeout: 2000, interval: 10 }).toBe(1)
    await idle.close()
    await busy.close()
    await origin.close()
  })
})
