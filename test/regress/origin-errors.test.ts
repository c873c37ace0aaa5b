/**
 * An origin in trouble: a 5xx fill's waiters get the stale copy or share its status instead of each asking the
 * failing origin, and an origin answer with Cache-Control on two lines neither breaks caching nor leaks an origin slot.
 * (Found in the code reviews of 2026-11-25 and 2026-12.)
 */
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin, answer } from '../helpers/origin.js'
import { startProxy, get, burstBehindOneFetch, TestClock } from '../helpers/proxy.js'
import { parseConfig } from '../../src/config/load.js'
import { MemoryStore } from '../../src/store/memory.js'
import { Origin } from '../../src/origin/fetch.js'
import { OriginLimiter } from '../../src/origin/limit.js'
import { fill, type FillContext, type FillRequest } from '../../src/fill.js'
import { makeLogger } from '../../src/core/log.js'

const { opened } = closeAfterEach()

describe('an origin in trouble', () => {
  it('waiters of a 5xx fetch get the stale copy (stale-if-error) instead of each asking the failing origin', async () => {
    const clock = new TestClock()
    const o = opened(await startOrigin(answer(200, { 'cache-control': 'max-age=1, stale-if-error=60' }, 'good')))
    const p = opened(await startProxy(o.url, { cache: { graceSeconds: 0 } }, { clock }))
    await get(`${p.url}/sie`)
    clock.advance(5000)
    o.setHandler(answer(503, {}, 'down'))
    const answers = await burstBehindOneFetch(o, p, `${p.url}/sie`, 20)
    expect(answers.every((r) => r.status === 200 && r.body === 'good')).toBe(true)
    expect(o.count).toBe(2)
  })

  it('waiters of a 5xx fetch without a stale copy share its status, not a request each', async () => {
    const o = opened(await startOrigin(answer(500, {}, 'boom')))
    const p = opened(await startProxy(o.url))
    const answers = await burstBehindOneFetch(o, p, `${p.url}/cold`, 10)
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(500))
    expect(o.count).toBe(1)
  })
})

describe('an origin that sends Cache-Control on two lines (review of 2026-12)', () => {
  const big = 'x'.repeat(100 * 1024)

  it('is cached, and never costs an origin slot: later pages still reach the origin (origin.maxInFlight 2)', async () => {
    const o = opened(await startOrigin((req, res) => {
      if (req.url?.startsWith('/dup') === true) res.setHeader('cache-control', ['public', 'max-age=60'])
      else res.setHeader('cache-control', 'max-age=60')
      // Past undici's high-water mark: a body nobody reads would also hold its connection, paused.
      res.end(big)
    }))
    const p = opened(await startProxy(o.url, { origin: { maxInFlight: 2, queueSize: 1, queueTimeoutMs: 200 } }))
    const answers = []
    for (let i = 0; i < 4; i++) answers.push(await get(`${p.url}/dup${i}`))
    for (let i = 0; i < 3; i++) answers.push(await get(`${p.url}/other${i}`))
    expect(answers.map((r) => r.status)).toEqual(Array(7).fill(200))
    expect(answers.every((r) => r.body === big)).toBe(true)
    const hit = await get(`${p.url}/dup0`)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(o.requests.filter((r) => r.url === '/dup0')).toHaveLength(1)
    expect(p.proxy.metrics.sources.originInFlight()).toBe(0)
  })

  it('fill gives back the origin slot and the connection when anything throws once the headers are in', async () => {
    const o = opened(await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, big)))
    const { config } = parseConfig(JSON.stringify({ origin: { url: o.url, timeoutMs: 5000, connections: 1 } }))
    const limiter = new OriginLimiter({ maxInFlight: 1, queueSize: 1, queueTimeoutMs: 200, adaptive: false })
    const upstream = new Origin(config, limiter)
    try {
      // `now` is first read once the origin's headers are in: a throw there stands for any bug between them and the body.
      const ctx = (now: FillContext['now']): FillContext => ({
        origin: upstream,
        store: new MemoryStore({ maxBytes: 1 << 22 }),
        now,
        storeOptions: { graceSeconds: 0, staleIfErrorSeconds: 0, heuristicFraction: 0, storeSetCookie: false, keepStaleSeconds: 0 },
        maxObjectBytes: 1 << 20,
        fillHeaders: { dropped: [], keyed: [] },
        logger: makeLogger('silent')
      })
      const request: FillRequest = {
        key: '/p',
        primaryKey: '/p',
        varyIndex: null,
        path: '/p',
        client: { headers: { host: 'h' }, address: undefined, keyHost: 'h' },
        stale: undefined,
        credentialed: false,
        group: 'origin'
      }
      const ask = { originHeaders: { host: 'h' }, requestHeaders: { host: 'h' } }
      const boom = new Error('a bug after the headers')
      await expect(fill(ctx(() => { throw boom }), request, ask)).rejects.toBe(boom)
      await expect.poll(() => limiter.inFlight).toBe(0)
      // The one slot and the one connection are free for the next fill.
      const next = await fill(ctx(() => Date.now()), request, ask)
      expect(next.kind).toBe('entry')
      expect(next.kind === 'entry' && next.entry.body.toString()).toBe(big)
    } finally {
      await upstream.close()
    }
  })
})
