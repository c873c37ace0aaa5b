/**
 * Issue 14, the rules that needed the miss path's wiring, through real sockets: a counting origin, a corral proxy and
 * a settable clock. Each test is named after the section it pins.
 */
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin, answer, type OriginHandler, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, TestClock, type TestProxy } from '../helpers/proxy.js'

const { opened } = closeAfterEach()
const clock = new TestClock()

const BODY = '0123456789abcdefghij'

async function start (handler: OriginHandler, cache: Record<string, unknown> = {}): Promise<{ origin: TestOrigin, proxy: TestProxy }> {
  const origin = opened(await startOrigin(handler))
  const proxy = opened(await startProxy(origin.url, { cache: { graceSeconds: 0, staleIfErrorSeconds: 0, ...cache } }, { clock }))
  return { origin, proxy }
}

describe('RFC 9110 §14: Range answered from the stored response', () => {
  const page = answer(200, { 'cache-control': 'max-age=60', etag: '"r1"', 'content-type': 'text/plain' }, BODY)

  it('§14.1.2: a single range, a suffix and an open range are 206 with the right Content-Range', async () => {
    const { origin, proxy } = await start(page)
    await get(`${proxy.url}/r`)
    const first = await get(`${proxy.url}/r`, { range: 'bytes=0-3' })
    expect(first.status).toBe(206)
    expect(first.body).toBe('0123')
    expect(first.headers['content-range']).toBe(`bytes 0-3/${BODY.length}`)
    expect(first.headers['content-length']).toBe('4')
    expect(first.headers['x-cache']).toBe('HIT')
    const suffix = await get(`${proxy.url}/r`, { range: 'bytes=-3' })
    expect(suffix.body).toBe('hij')
    expect(suffix.headers['content-range']).toBe(`bytes 17-19/${BODY.length}`)
    const open = await get(`${proxy.url}/r`, { range: 'bytes=15-' })
    expect(open.body).toBe('fghij')
    expect(origin.count).toBe(1)
  })

  it('§15.5.17: an unsatisfiable range is 416 with Content-Range: bytes */length', async () => {
    const { proxy } = await start(page)
    await get(`${proxy.url}/r416`)
    const r = await get(`${proxy.url}/r416`, { range: 'bytes=100-' })
    expect(r.status).toBe(416)
    expect(r.headers['content-range']).toBe(`bytes */${BODY.length}`)
  })

  it('§13.1.5: If-Range naming another validator gets the whole 200', async () => {
    const { proxy } = await start(page)
    await get(`${proxy.url}/ir`)
    const stale = await get(`${proxy.url}/ir`, { range: 'bytes=0-3', 'if-range': '"other"' })
    expect(stale.status).toBe(200)
    expect(stale.body).toBe(BODY)
    const same = await get(`${proxy.url}/ir`, { range: 'bytes=0-3', 'if-range': '"r1"' })
    expect(same.status).toBe(206)
  })

  it('a Range miss fills the whole object once (no Range to the origin) and answers the range from it', async () => {
    const { origin, proxy } = await start(page)
    const r = await get(`${proxy.url}/miss`, { range: 'bytes=2-4' })
    expect(r.status).toBe(206)
    expect(r.body).toBe('234')
    expect(origin.requests[0]?.headers.range).toBeUndefined()
    expect((await get(`${proxy.url}/miss`)).headers['x-cache']).toBe('HIT')
    expect(origin.count).toBe(1)
  })
})

describe('RFC 9111 §3.5: Authorization', () => {
  it('an answer marked public is stored and shared; the authorized request itself always reaches the origin', async () => {
    const { origin, proxy } = await start(answer(200, { 'cache-control': 'public, max-age=60' }, 'shared'))
    const mine = await get(`${proxy.url}/a`, { authorization: 'Bearer alice' })
    expect(mine.headers['x-cache']).toBe('PASS')
    expect(mine.headers['cache-status']).toContain('stored')
    const anon = await get(`${proxy.url}/a`)
    expect(anon.headers['x-cache']).toBe('HIT')
    expect(anon.body).toBe('shared')
    await get(`${proxy.url}/a`, { authorization: 'Bearer bob' })
    expect(origin.count).toBe(2)
  })

  it('an answer without public, s-maxage or must-revalidate stays with its requester', async () => {
    const { origin, proxy } = await start(answer(200, { 'cache-control': 'max-age=60' }, 'mine'))
    await get(`${proxy.url}/p`, { authorization: 'Bearer alice' })
    const anon = await get(`${proxy.url}/p`)
    expect(anon.headers['x-cache']).toBe('MISS')
    expect(origin.count).toBe(2)
  })
})

describe('RFC 9213 / W3C Edge Architecture: fields addressed to corral are not delivered', () => {
  it('Surrogate-Control and Corral-Cache-Control are removed on a miss and on a hit; CDN-Cache-Control is forwarded (§3)', async () => {
    const { proxy } = await start(answer(200, {
      'cache-control': 'no-store', 'surrogate-control': 'max-age=60', 'corral-cache-control': 'max-age=60', 'cdn-cache-control': 'max-age=30'
    }, 'page'))
    for (const expected of ['MISS', 'HIT']) {
      const r = await get(`${proxy.url}/t`)
      expect(r.headers['x-cache']).toBe(expected)
      expect(r.headers['surrogate-control']).toBeUndefined()
      expect(r.headers['corral-cache-control']).toBeUndefined()
      expect(r.headers['cdn-cache-control']).toBe('max-age=30')
      expect(r.headers['cache-control']).toBe('no-store')
    }
  })

  it('a pass is told of corral (Surrogate-Capability) and its Surrogate-Control is not delivered', async () => {
    const { origin, proxy } = await start(answer(200, { 'surrogate-control': 'no-store' }, 'posted'))
    const r = await get(`${proxy.url}/form`, {}, 'POST', 'x=1')
    expect(origin.requests[0]?.headers['surrogate-capability']).toBe('corral="Surrogate/1.0"')
    expect(r.headers['surrogate-control']).toBeUndefined()
  })

  it('cache tags are not delivered on an answer that is relayed without being stored either', async () => {
    const { proxy } = await start(answer(200, { 'cache-control': 'no-store', 'surrogate-key': 'article-1 front' }, 'p'))
    const r = await get(`${proxy.url}/tagged`)
    expect(r.headers['x-cache']).toBe('MISS')
    expect(r.headers['surrogate-key']).toBeUndefined()
  })

  it('cache.targetedFields chooses which fields win: an empty list leaves Cache-Control alone in charge', async () => {
    const { origin, proxy } = await start(answer(200, { 'cache-control': 'no-store', 'corral-cache-control': 'max-age=60' }, 'p'), { targetedFields: [] })
    await get(`${proxy.url}/cc`)
    await get(`${proxy.url}/cc`)
    expect(origin.count).toBe(2)
  })
})

describe('RFC 9111 §4.4: invalidation by unsafe methods', () => {
  it('a successful POST marks the target and the same-origin Location and Content-Location stale, not another host\'s', async () => {
    let n = 0
    const { origin, proxy } = await start((req, res) => {
      if (req.method === 'POST') {
        res.writeHead(303, { location: '/article', 'content-location': 'http://elsewhere.test/other' })
        res.end()
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=600' })
      res.end(`v${++n}`)
    })
    for (const path of ['/form', '/article']) await get(`${proxy.url}${path}`)
    expect((await get(`${proxy.url}/article`)).headers['x-cache']).toBe('HIT')
    await get(`${proxy.url}/form`, {}, 'POST', 'x=1')
    const before = origin.count
    await expect.poll(async () => (await get(`${proxy.url}/article`)).headers['x-cache']).not.toBe('HIT')
    expect(origin.count).toBeGreaterThan(before)
    expect((await get(`${proxy.url}/form`)).headers['x-cache']).not.toBe('HIT')
  })

  it('a method corral does not know (M-SEARCH) is unsafe too; an error answer invalidates nothing', async () => {
    const { proxy } = await start((req, res) => {
      res.writeHead(req.method === 'GET' ? 200 : req.method === 'PUT' ? 500 : 204, { 'cache-control': 'max-age=600' })
      res.end('x')
    })
    await get(`${proxy.url}/u`)
    await get(`${proxy.url}/u`, {}, 'PUT', 'x')
    expect((await get(`${proxy.url}/u`)).headers['x-cache']).toBe('HIT')
    await get(`${proxy.url}/u`, {}, 'M-SEARCH')
    await expect.poll(async () => (await get(`${proxy.url}/u`)).headers['x-cache']).not.toBe('HIT')
  })
})

describe('RFC 9111 §4.3.5: a 200 to a HEAD freshens the stored GET', () => {
  function headOrigin (etagOfHead: string): OriginHandler {
    return (req, res) => {
      const head = req.method === 'HEAD'
      res.writeHead(200, { 'cache-control': head ? 'public, max-age=60' : 'max-age=10', etag: head ? etagOfHead : '"a"', 'content-length': String(BODY.length) })
      res.end(head ? undefined : BODY)
    }
  }

  it('matching validators: the stored GET takes the HEAD\'s freshness', async () => {
    const { origin, proxy } = await start(headOrigin('"a"'))
    await get(`${proxy.url}/h`)
    clock.advance(8000)
    // A HEAD with credentials reaches the origin as a pass.
    await get(`${proxy.url}/h`, { authorization: 'Bearer x' }, 'HEAD')
    expect(origin.requests[1]?.method).toBe('HEAD')
    clock.advance(5000)
    await expect.poll(async () => (await get(`${proxy.url}/h`)).headers['x-cache']).toBe('HIT')
    expect(origin.count).toBe(2)
  })

  it('another ETag: the stored GET is not served again without the origin', async () => {
    const { origin, proxy } = await start(headOrigin('"b"'))
    await get(`${proxy.url}/h2`)
    await get(`${proxy.url}/h2`, { authorization: 'Bearer x' }, 'HEAD')
    await expect.poll(async () => (await get(`${proxy.url}/h2`)).headers['x-cache']).not.toBe('HIT')
    expect(origin.count).toBeGreaterThan(2)
  })

  it('a HEAD answer to Authorization that could not be shared itself does not update the shared copy (§3.5)', async () => {
    const { origin, proxy } = await start((req, res) => {
      const head = req.method === 'HEAD'
      res.writeHead(200, { 'cache-control': head ? 'max-age=60' : 'max-age=10', etag: '"a"', 'content-length': String(BODY.length), ...(head ? { 'x-user': 'alice' } : {}) })
      res.end(head ? undefined : BODY)
    })
    await get(`${proxy.url}/h3`)
    await get(`${proxy.url}/h3`, { authorization: 'Bearer alice' }, 'HEAD')
    const next = await get(`${proxy.url}/h3`)
    expect(next.headers['x-user']).toBeUndefined()
    expect(origin.count).toBeGreaterThanOrEqual(2)
  })
})

describe('RFC 9111 §5.2.1.7: only-if-cached', () => {
  it('nothing stored: 504 and no origin request; stored and fresh: served', async () => {
    const { origin, proxy } = await start(answer(200, { 'cache-control': 'max-age=60' }, 'page'))
    const cold = await get(`${proxy.url}/o`, { 'cache-control': 'only-if-cached' })
    expect(cold.status).toBe(504)
    expect(origin.count).toBe(0)
    await get(`${proxy.url}/o`)
    const warm = await get(`${proxy.url}/o`, { 'cache-control': 'only-if-cached' })
    expect(warm.status).toBe(200)
    expect(warm.headers['x-cache']).toBe('HIT')
  })
})

describe('RFC 9111 §5.2.2.4: qualified no-cache', () => {
  it('the request that got the cookie keeps it; the stored page is shared without it', async () => {
    const { proxy } = await start(answer(200, { 'cache-control': 'max-age=60, no-cache="set-cookie"', 'set-cookie': 'sid=1' }, 'page'))
    const first = await get(`${proxy.url}/q`)
    expect(first.headers['set-cookie']).toBeDefined()
    const second = await get(`${proxy.url}/q`)
    expect(second.headers['x-cache']).toBe('HIT')
    expect(second.headers['set-cookie']).toBeUndefined()
  })
})

describe('RFC 5861 §4: a stored error never replaces a good copy inside its stale-if-error window', () => {
  it('an origin 503 with max-age=5 after expiry: the stale copy answers', async () => {
    let status = 200
    const { proxy } = await start((_req, res) => {
      res.writeHead(status, { 'cache-control': status === 200 ? 'max-age=1, stale-if-error=600' : 'max-age=5' })
      res.end(status === 200 ? 'good' : 'busy')
    })
    await get(`${proxy.url}/e`)
    clock.advance(2000)
    status = 503
    const r = await get(`${proxy.url}/e`)
    expect(r.status).toBe(200)
    expect(r.body).toBe('good')
    expect(r.headers['x-cache']).toBe('STALE')
    expect(r.headers['cache-status']).toContain('stale-if-error')
  })
})

describe('issue 16.9: a stale answer says which window it came from', () => {
  it('inside the operator\'s grace window: detail=grace; inside the origin\'s stale-while-revalidate: its own name', async () => {
    const origin = opened(await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': req.url === '/swr' ? 'max-age=1, stale-while-revalidate=60' : 'max-age=1' })
      res.end('x')
    }))
    const proxy = opened(await startProxy(origin.url, { cache: { graceSeconds: 60 } }, { clock }))
    await get(`${proxy.url}/grace`)
    await get(`${proxy.url}/swr`)
    clock.advance(2000)
    const graced = await get(`${proxy.url}/grace`)
    expect(graced.headers['x-cache']).toBe('STALE')
    expect(graced.headers['cache-status']).toContain('detail=grace')
    const swr = await get(`${proxy.url}/swr`)
    expect(swr.headers['cache-status']).toContain('detail=stale-while-revalidate')
  })
})
