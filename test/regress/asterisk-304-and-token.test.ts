/**
 * Issue 23, item 6, the smaller ones: asterisk targets other than `OPTIONS *`, an origin 304 to an unconditional
 * fill, Accept-Encoding read by a real parser, and no admin.token value in any message.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, rawRequest, coalescedWaiters, type TestProxy } from '../helpers/proxy.js'
import { normalizeAcceptEncoding, normalizeAcceptLanguage } from '../../src/core/vary.js'
import { parseConfig } from '../../src/config/load.js'

const opened: Array<{ close: () => Promise<void> }> = []
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close()
})

async function setup (handler: Parameters<typeof startOrigin>[0]): Promise<{ o: TestOrigin, p: TestProxy }> {
  const o = await startOrigin(handler)
  opened.push(o)
  const p = await startProxy(o.url, { log: { level: 'info', access: false } })
  opened.push(p)
  return { o, p }
}

describe('asterisk targets', () => {
  it.each(['OPTIONS *x', 'OPTIONS **', 'OPTIONS *?x', 'GET *', 'GET *x'])('%s is a 400 answered by corral; the origin never sees it', async (line) => {
    const { o, p } = await setup((_req, res) => { res.end('origin') })
    const answer = await rawRequest(p.url, `${line} HTTP/1.1\r\nHost: site.test`)
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(o.count).toBe(0)
    const errors = await p.proxy.metrics.originErrors.get()
    expect(errors.values.reduce((sum, v) => sum + v.value, 0)).toBe(0)
  })

  it('OPTIONS * is still a 200 with Allow', async () => {
    const { o, p } = await setup((_req, res) => { res.end('origin') })
    const answer = await rawRequest(p.url, 'OPTIONS * HTTP/1.1\r\nHost: site.test')
    expect(answer).toMatch(/^HTTP\/1\.1 200 [\s\S]*allow: GET, HEAD/i)
    expect(o.count).toBe(0)
  })
})

describe('an origin 304 to an unconditional fill', () => {
  it('is one 502 for the leader and every coalesced client, with a status line each, and one origin request', async () => {
    const { o, p } = await setup((_req, res) => { res.writeHead(304, { etag: '"x"' }); res.end() })
    o.hold()
    const answers = Array.from({ length: 20 }, async () => await get(`${p.url}/page`, { host: 'site.test' }))
    await o.arrived(1)
    await expect.poll(async () => await coalescedWaiters(p), { timeout: 10_000 }).toBe(19)
    o.release()
    for (const a of await Promise.all(answers)) {
      expect(a.status).toBe(502)
      expect(a.body).toMatch(/304/)
    }
    expect(o.count).toBe(1)
  })
})

describe('Accept-Encoding, parsed by negotiator', () => {
  it.each([
    ['gzip      ;q=0, identity', ''],
    ['gzip ; q=0 , br', 'br'],
    ['br;q=0.5, gzip', 'br, gzip'],
    ['GZIP, Deflate', 'gzip, deflate'],
    ['*', 'br, gzip, zstd, deflate'],
    ['*, gzip;q=0', 'br, zstd, deflate'],
    ['identity;q=0', ''],
    ['gzip;q=0.001', 'gzip'],
    ['gzip;q=0.000', ''],
    ['x-gzip', '']
  ])('%j → %j', (value, expected) => {
    expect(normalizeAcceptEncoding(value)).toBe(expected)
  })

  it('a refused coding is not fetched for the client: the origin is asked without it', async () => {
    const { o, p } = await setup((_req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60' }); res.end('page') })
    await get(`${p.url}/page`, { host: 'site.test', 'accept-encoding': 'gzip      ;q=0, identity' })
    // Empty: identity only (RFC 9110 §12.5.3), which is what the client asked for.
    expect(o.requests[0]?.headers['accept-encoding']).toBe('')
  })
})

describe('Accept-Language', () => {
  it.each([
    ['de , en ;q=0.5', 'de,en;q=0.5'],
    ['en;q=0.5, de', 'de,en;q=0.5'],
    ['*;q=0.1, fr', 'fr,*;q=0.1'],
    ['fr;q=0, en', 'en'],
    ['en;q=2', '']
  ])('%j → %j', (value, expected) => {
    expect(normalizeAcceptLanguage(value)).toBe(expected)
  })
})

describe('admin.token is never quoted', () => {
  const SECRET = 'hunter2-secret-token-value'
  it.each([[[SECRET]], [{ value: SECRET }], [4242424242424242], [true]])('a wrong-typed token (%j) is refused naming the key, without its value', (value) => {
    const text = JSON.stringify({ origin: { url: 'http://127.0.0.1:1' }, admin: { token: value } })
    let message = ''
    try {
      parseConfig(text)
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toMatch(/^admin\.token: must be a string/)
    expect(message).not.toContain(SECRET)
    expect(message).not.toContain('4242')
  })

  it('a JSON syntax error next to the token does not quote the text around it', () => {
    let message = ''
    try {
      parseConfig(`{ "origin": { "url": "http://127.0.0.1:1" }, "admin": { "token": ${SECRET} } }`)
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toMatch(/^invalid JSON/)
    expect(message).not.toContain('hunter2')
  })
})
