/**
 * Issue 13, item 6: protocol corners. Two Host fields are a 400 (RFC 9112 §3.2); a malformed request pipelined
 * behind an uncached one does not replace the answer still on its way; `OPTIONS *` is answered by corral itself.
 */
import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin, answer } from '../helpers/origin.js'
import { startProxy, get, rawRequest } from '../helpers/proxy.js'

const { opened, sockets } = closeAfterEach()

const page = answer(200, { 'cache-control': 'max-age=60' }, (n) => `page-${n}`)

describe('two Host fields', () => {
  it('are refused with 400 and never reach the origin or the cache (RFC 9112 §3.2)', async () => {
    const o = opened(await startOrigin(page))
    const p = opened(await startProxy(o.url))
    const twice = await rawRequest(p.url, 'GET /x HTTP/1.1\r\nHost: site.test\r\nHost: victim.test')
    expect(twice).toMatch(/^HTTP\/1\.1 400 /)
    const same = await rawRequest(p.url, 'GET /x HTTP/1.1\r\nHost: site.test\r\nHost: site.test')
    expect(same).toMatch(/^HTTP\/1\.1 400 /)
    expect(o.count).toBe(0)
    // One Host is served as before; other repeated fields still reach the origin.
    const once = await rawRequest(p.url, 'GET /x HTTP/1.1\r\nHost: site.test\r\nX-Twice: a\r\nX-Twice: b')
    expect(once).toMatch(/^HTTP\/1\.1 200 /)
    expect(o.requests[0]?.headers['x-twice']).toBe('a, b')
  })
})

describe('a malformed request pipelined behind an uncached one', () => {
  it('does not replace the pending answer: the client gets it in full, then the connection closes', async () => {
    const o = opened(await startOrigin(answer(200, { 'cache-control': 'no-store', 'content-length': '4' }, 'slow')))
    const p = opened(await startProxy(o.url))
    o.hold()
    const { port } = new URL(p.url)
    let data = ''
    const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET /slow HTTP/1.1\r\nHost: site.test\r\n\r\nBLAH\x01\r\n\r\n'))
    sockets.push(socket)
    socket.on('data', (d: Buffer) => { data += d.toString('latin1') })
    socket.on('error', () => {})
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    await o.arrived(1)
    await expect.poll(() => p.logs.some((l) => l.msg === 'bad request')).toBe(true)
    o.release()
    await closed
    expect(data).toMatch(/^HTTP\/1\.1 200 /)
    expect(data.endsWith('\r\n\r\nslow')).toBe(true)
    expect(o.count).toBe(1)
  })
})

describe('OPTIONS *', () => {
  it('is answered by corral with 200 and Allow, without a trip to the origin or a warning', async () => {
    const o = opened(await startOrigin(page))
    const p = opened(await startProxy(o.url))
    const options = await rawRequest(p.url, 'OPTIONS * HTTP/1.1\r\nHost: site.test')
    expect(options).toMatch(/^HTTP\/1\.1 200 /)
    expect(options).toMatch(/\r\nallow: GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE\r\n/i)
    expect(options).toMatch(/\r\ncontent-length: 0\r\n/i)
    expect(o.count).toBe(0)
    expect(p.logs.filter((l) => (l.level as number) >= 40)).toEqual([])
    // Any other method with the asterisk-form is not a request for a resource (RFC 9112 §3.2.4).
    const get = await rawRequest(p.url, 'GET * HTTP/1.1\r\nHost: site.test')
    expect(get).toMatch(/^HTTP\/1\.1 400 /)
    expect(o.count).toBe(0)
  })

  it('an OPTIONS for a path still goes to the origin', async () => {
    const o = opened(await startOrigin(answer(204, { allow: 'GET, POST' }, '')))
    const p = opened(await startProxy(o.url))
    const res = await get(`${p.url}/api`, { host: 'site.test' }, 'OPTIONS')
    expect(res.status).toBe(204)
    expect(res.headers.allow).toBe('GET, POST')
    expect(o.requests[0]).toMatchObject({ method: 'OPTIONS', url: '/api' })
  })
})
