/**
 * Uncacheable answers do not switch caching off for everyone: a user's background refresh, a URL remembered as
 * uncacheable that becomes storable again. (Found in the code review of 2026-11-25.)
 */
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin } from '../helpers/origin.js'
import { startProxy, get, TestClock } from '../helpers/proxy.js'

const { opened } = closeAfterEach()

describe('uncacheable answers', () => {
  it('an answer to one user\'s background refresh does not switch caching off for everyone (hit-for-miss)', async () => {
    const clock = new TestClock()
    const o = opened(await startOrigin((req, res, n) => {
      if (req.headers.cookie !== undefined) {
        res.writeHead(200, { 'cache-control': 'private', 'set-cookie': 'session=alice' })
        res.end('alice')
        return
      }
      res.writeHead(200, { 'cache-control': 'public, max-age=2' })
      res.end(`public-${n}`)
    }))
    const p = opened(await startProxy(o.url, {}, { clock }))
    await get(`${p.url}/home`)
    clock.advance(3000)
    // Alice's request finds the page stale: she gets the stale public copy, and her refresh answer is private.
    expect((await get(`${p.url}/home`, { cookie: 'session=alice' })).body).toBe('public-1')
    await expect.poll(() => o.count).toBe(2)
    const anonymous = await get(`${p.url}/home`)
    expect(anonymous.headers['x-cache']).not.toBe('PASS')
    expect(anonymous.body).toMatch(/^public-/)
  })

  it('a URL remembered as uncacheable is fetched alone, and cached again once its answer is storable', async () => {
    let cacheable = false
    const o = opened(await startOrigin((_req, res, n) => {
      res.writeHead(200, { 'cache-control': cacheable ? 'max-age=60' : 'no-store' })
      res.end(`v${n}`)
    }))
    const p = opened(await startProxy(o.url))
    await get(`${p.url}/flip`)
    const pass = await get(`${p.url}/flip`)
    expect(pass.headers['x-cache']).toBe('PASS')
    expect(pass.headers['cache-status']).toContain('hit-for-pass')
    cacheable = true
    await get(`${p.url}/flip`)
    const hit = await get(`${p.url}/flip`)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(o.count).toBe(3)
  })
})
