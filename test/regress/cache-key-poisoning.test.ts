/**
 * Cache keys cannot be poisoned through client-controlled input: absolute-form targets, Host values, query
 * parameters the key drops, Connection-listed fields. (Found in the code review of 2026-11-25.)
 */
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin, answer } from '../helpers/origin.js'
import { startProxy, get, rawRequest } from '../helpers/proxy.js'

const { opened } = closeAfterEach()

const reflect = answer(200, { 'cache-control': 'max-age=60' }, (n) => `page-${n}`)

describe('cache keys cannot be poisoned', () => {
  it('refuses an absolute-form target whose host is not the Host header, and forwards a matching one in origin-form', async () => {
    const o = opened(await startOrigin(reflect))
    const p = opened(await startProxy(o.url))
    const refused = await rawRequest(p.url, 'GET http://victim.test/x HTTP/1.1\r\nHost: attacker.test')
    expect(refused).toMatch(/^HTTP\/1\.1 400/)
    expect(o.count).toBe(0)
    const ok = await rawRequest(p.url, 'GET http://victim.test/x?a=1 HTTP/1.1\r\nHost: victim.test')
    expect(ok).toMatch(/^HTTP\/1\.1 200/)
    expect(o.requests[0]?.url).toBe('/x?a=1')
  })

  it('refuses a Host that is not a host (a "/" would file the page under another path)', async () => {
    const o = opened(await startOrigin(reflect))
    const p = opened(await startProxy(o.url))
    expect(await rawRequest(p.url, 'GET /reflect HTTP/1.1\r\nHost: site.test/evil')).toMatch(/^HTTP\/1\.1 400/)
    expect(o.count).toBe(0)
    expect((await get(`${p.url}/evil/reflect`, { host: 'site.test' })).headers['x-cache']).toBe('MISS')
  })

  it('never sends the origin a query parameter the key drops', async () => {
    const o = opened(await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end(`saw ${req.url ?? ''}`)
    }))
    const p = opened(await startProxy(o.url))
    const poisoned = await get(`${p.url}/r?utm_source=<script>x</script>`)
    expect(poisoned.body).toBe('saw /r')
    expect((await get(`${p.url}/r`)).body).toBe('saw /r')
    expect((await get(`${p.url}/c?id=1&utm_source=x;id=evil`)).body).toBe('saw /c?id=1')
  })

  it('keys a Vary variant by what the origin received: Connection-listed headers are not forwarded, nor keyed', async () => {
    const o = opened(await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' })
      res.end(`lang=${req.headers['accept-language'] ?? 'default'}`)
    }))
    const p = opened(await startProxy(o.url))
    const sneaky = await rawRequest(p.url, 'GET /v HTTP/1.1\r\nHost: site.test\r\nAccept-Language: fr\r\nConnection: accept-language')
    expect(sneaky).toContain('lang=default')
    const fr = await get(`${p.url}/v`, { host: 'site.test', 'accept-language': 'fr' })
    expect(fr.body).toBe('lang=fr')
  })
})
