/**
 * Issue 16 item 5: access lines carry the client address, Host, user agent, referer, request id and the bytes sent,
 * with trace on too and for shed and origin-error answers; the request id is the client's (or its traceparent's trace
 * id), else made here, and reaches the origin and comes back on the response.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { answer, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { get, startProxy, type TestProxy } from '../helpers/proxy.js'
import { takeRequestId } from '../../src/core/request-id.js'

const PAGE = 'x'.repeat(1234)

describe('takeRequestId', () => {
  it('keeps a usable X-Request-Id, else takes the traceparent trace id, else makes one; leaves it in the headers', () => {
    const given: Record<string, string> = { 'x-request-id': 'req-42' }
    expect(takeRequestId(given)).toBe('req-42')
    const traced: Record<string, string> = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }
    expect(takeRequestId(traced)).toBe('4bf92f3577b34da6a3ce929d0e0e4736')
    expect(traced['x-request-id']).toBe('4bf92f3577b34da6a3ce929d0e0e4736')
    const none: Record<string, string> = {}
    const made = takeRequestId(none)
    expect(made).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/)
    expect(none['x-request-id']).toBe(made)
    expect(takeRequestId({})).not.toBe(made)
    // A value unfit for a log line or an origin header is replaced, and so is the all-zero trace id.
    expect(takeRequestId({ 'x-request-id': 'a"b' })).toMatch(/^[0-9a-f]{8}-/)
    expect(takeRequestId({ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` })).toMatch(/^[0-9a-f]{8}-/)
  })
})

describe('access lines and request ids', () => {
  let origin: TestOrigin
  let proxy: TestProxy

  beforeAll(async () => {
    origin = await startOrigin(async (req, res) => {
      if (req.url === '/broken') {
        res.destroy()
        return
      }
      if (req.url === '/chunked') {
        // No Content-Length, not storable: streamed through in chunks.
        res.writeHead(200, { 'cache-control': 'no-store', 'content-type': 'text/plain' })
        res.write(PAGE)
        res.end(PAGE)
        return
      }
      await answer(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, PAGE)(req, res, 0)
    })
    proxy = await startProxy(origin.url, {
      flags: { closed: false },
      routes: [{ match: '/closed/', flag: 'closed', whenShed: { status: 503, body: 'come back later\n' } }]
    })
  })
  afterAll(async () => {
    await proxy.close()
    await origin.close()
  })
  afterEach(() => { proxy.logs.length = 0 })

  function accessLine (url: string): Record<string, unknown> {
    const line = proxy.logs.find((l) => l['msg'] === 'access' && l['url'] === url)
    expect(line, `access line for ${url}`).toBeDefined()
    return line as Record<string, unknown>
  }

  async function flushed (url: string): Promise<Record<string, unknown>> {
    await expect.poll(() => proxy.logs.some((l) => l['msg'] === 'access' && l['url'] === url)).toBe(true)
    return accessLine(url)
  }

  it('a miss and a hit: client, host, user agent, referer, the client\'s request id to the origin and back, bytes', async () => {
    const headers = { 'user-agent': 'probe/1.0', referer: 'http://example.com/from', 'x-request-id': 'abc-123' }
    const miss = await get(`${proxy.url}/page`, headers)
    expect(miss.headers['x-request-id']).toBe('abc-123')
    expect(origin.requests.at(-1)?.headers['x-request-id']).toBe('abc-123')
    const hit = await get(`${proxy.url}/page`, { ...headers, 'x-request-id': 'abc-124' })
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['x-request-id']).toBe('abc-124')
    await expect.poll(() => proxy.logs.filter((l) => l['msg'] === 'access').length).toBe(2)
    const [first, second] = proxy.logs.filter((l) => l['msg'] === 'access')
    const host = new URL(proxy.url).host
    for (const [line, id, cache] of [[first, 'abc-123', 'MISS'], [second, 'abc-124', 'HIT']] as const) {
      expect(line).toMatchObject({ cache, status: 200, bytes: PAGE.length, client: '127.0.0.1', host, userAgent: 'probe/1.0', referer: 'http://example.com/from', requestId: id })
    }
  })

  it('a request without an id gets one made here, the same at the origin, on the response and in the line', async () => {
    const res = await get(`${proxy.url}/fresh-id`)
    const id = res.headers['x-request-id']
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/)
    expect(origin.requests.at(-1)?.headers['x-request-id']).toBe(id)
    expect((await flushed('/fresh-id'))['requestId']).toBe(id)
  })

  it('a traceparent\'s trace id is the request id', async () => {
    const res = await get(`${proxy.url}/traced`, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })
    expect(res.headers['x-request-id']).toBe('4bf92f3577b34da6a3ce929d0e0e4736')
    expect(origin.requests.at(-1)?.headers.traceparent).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
  })

  it('a shed 503 and an origin-error 502 count the body they sent', async () => {
    const shed = await get(`${proxy.url}/closed/x`)
    expect(shed.status).toBe(503)
    expect(shed.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-/)
    expect(await flushed('/closed/x')).toMatchObject({ cache: 'SHED', status: 503, bytes: Buffer.byteLength(shed.body) })
    const broken = await get(`${proxy.url}/broken`)
    expect(broken.status).toBe(502)
    expect(broken.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-/)
    expect(await flushed('/broken')).toMatchObject({ status: 502, bytes: Buffer.byteLength(broken.body) })
    expect(Buffer.byteLength(broken.body)).toBeGreaterThan(0)
  })

  it('a streamed answer without Content-Length counts the bytes it sent', async () => {
    const r = await get(`${proxy.url}/chunked`)
    expect(r.headers['content-length']).toBeUndefined()
    expect(await flushed('/chunked')).toMatchObject({ status: 200, bytes: 2 * Buffer.byteLength(PAGE) })
  })

  it('with the trace flag on, the line keeps bytes and the new fields', async () => {
    proxy.proxy.apply({ ...proxy.proxy.loaded, config: { ...proxy.proxy.loaded.config, flags: { ...proxy.proxy.loaded.config.flags, trace: true } } })
    try {
      await get(`${proxy.url}/page`, { 'user-agent': 'probe/2.0', 'x-request-id': 'traced-1' })
      expect(await flushed('/page')).toMatchObject({ cache: 'HIT', bytes: PAGE.length, userAgent: 'probe/2.0', requestId: 'traced-1', client: '127.0.0.1', tier: 'memory' })
    } finally {
      proxy.proxy.apply({ ...proxy.proxy.loaded, config: { ...proxy.proxy.loaded.config, flags: { ...proxy.proxy.loaded.config.flags, trace: false } } })
    }
  })
})

describe('with access lines off', () => {
  it('no id is made: the client\'s passes through untouched, none is added', async () => {
    const origin = await startOrigin(answer(200, { 'cache-control': 'no-store' }, 'ok'))
    const proxy = await startProxy(origin.url, { log: { access: false } })
    try {
      const plain = await get(`${proxy.url}/a`)
      expect(plain.headers['x-request-id']).toBeUndefined()
      expect(origin.requests.at(-1)?.headers['x-request-id']).toBeUndefined()
      await get(`${proxy.url}/b`, { 'x-request-id': 'mine' })
      expect(origin.requests.at(-1)?.headers['x-request-id']).toBe('mine')
    } finally {
      await proxy.close()
      await origin.close()
    }
  })
})
