/**
 * Issue 16 item 8: listen.drainDelayMs. After SIGTERM (proxy.close) the health path answers 503 for that long while
 * requests are still served; then the listener closes and requests in flight finish.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { answer, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { get, startProxy, type TestProxy } from '../helpers/proxy.js'
import { probe } from '../helpers/config-file.js'

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
