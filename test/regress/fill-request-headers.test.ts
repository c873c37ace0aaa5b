/**
 * Issue 13, item 2: client fields that shape a shared page. A method override on a fill made the origin answer a
 * cacheable 405 that every client then got; X-Host, X-Forwarded-Server and X-Original-Host were forwarded and their
 * reflected value cached. Fills drop them (core/origin-headers.ts NOT_FORWARDED_ON_FILL) unless the answer varies on them
 * or the operator allows them (cache.forwardRequestHeaders); passes keep them.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { IncomingMessage } from 'node:http'
import { startOrigin, type OriginHandler, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, type TestProxy } from '../helpers/proxy.js'
import { parseConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/core/errors.js'
import { NOT_FORWARDED_ON_FILL } from '../../src/core/origin-headers.js'

let origin: TestOrigin | undefined
let proxy: TestProxy | undefined

afterEach(async () => {
  await proxy?.close()
  await origin?.close()
  proxy = undefined
  origin = undefined
})

const HOST = { host: 'site.test' }
const SHAPING = ['x-host', 'x-forwarded-server', 'x-original-host', 'x-http-host-override', 'x-original-uri', 'x-forwarded-uri']

/** What an app behind corral might do with these fields: obey a method override, reflect a host-like field. */
function shapedBy (req: IncomingMessage): string {
  return SHAPING.map((name) => `${name}=${String(req.headers[name] ?? '')}`).join(';')
}

const obeying: OriginHandler = (req, res) => {
  const method = req.headers['x-http-method-override'] ?? req.headers['x-http-method'] ?? req.headers['x-method-override'] ?? req.method
  if (method !== 'GET' && req.method === 'GET') {
    res.writeHead(405, { 'cache-control': 'public, max-age=60', allow: 'GET' })
    res.end('method not allowed')
    return
  }
  res.writeHead(200, { 'cache-control': 'public, max-age=60' })
  res.end(`page ${shapedBy(req)}`)
}

const NEUTRAL = `page ${SHAPING.map((name) => `${name}=`).join(';')}`

describe('fills do not carry fields that shape a shared page', () => {
  it.each(['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override'])('%s: DELETE on a fill does not cache a 405 for everyone', async (field) => {
    const o = origin = await startOrigin(obeying)
    const p = proxy = await startProxy(o.url)
    const forged = await get(`${p.url}/page`, { ...HOST, [field]: 'DELETE' })
    expect(forged.status).toBe(200)
    expect(o.requests[0]?.headers[field.toLowerCase()]).toBeUndefined()
    const everyone = await get(`${p.url}/page`, HOST)
    expect(everyone.status).toBe(200)
    expect(everyone.headers['x-cache']).toBe('HIT')
    expect(everyone.body).toBe(NEUTRAL)
  })

  it('host-like and path-like fields are not forwarded on a fill, and their value is not cached', async () => {
    const o = origin = await startOrigin(obeying)
    const p = proxy = await startProxy(o.url)
    const forged = Object.fromEntries(SHAPING.map((name) => [name, 'evil.test']))
    const first = await get(`${p.url}/page`, { ...HOST, ...forged })
    expect(first.body).toBe(NEUTRAL)
    for (const name of SHAPING) expect(o.requests[0]?.headers[name]).toBeUndefined()
    const everyone = await get(`${p.url}/page`, HOST)
    expect(everyone.headers['x-cache']).toBe('HIT')
    expect(everyone.body).toBe(NEUTRAL)
    expect(o.count).toBe(1)
  })

  it('passes keep them: a pass is not shared (a POST with a method override)', async () => {
    const o = origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store' })
      res.end('ok')
    })
    const p = proxy = await startProxy(o.url)
    await get(`${p.url}/api`, { ...HOST, 'x-http-method-override': 'DELETE' }, 'POST', '')
    expect(o.requests[0]).toMatchObject({ method: 'POST' })
    expect(o.requests[0]?.headers['x-http-method-override']).toBe('DELETE')
  })

  it('a GET with Authorization is a fill of its own: its answer may be stored for others (RFC 9111 §3.5), so they are dropped', async () => {
    const o = origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': 'public, max-age=60' })
      res.end(`server=${String(req.headers['x-forwarded-server'] ?? '')}`)
    })
    const p = proxy = await startProxy(o.url)
    const mine = await get(`${p.url}/me`, { ...HOST, authorization: 'Bearer t', 'x-forwarded-server': 'evil' })
    expect(mine.headers['x-cache']).toBe('PASS')
    expect(o.requests[0]?.headers['x-forwarded-server']).toBeUndefined()
    expect(o.requests[0]?.headers.authorization).toBe('Bearer t')
    // Stored because it said public, and shared unshaped.
    const other = await get(`${p.url}/me`, HOST)
    expect(other.headers['x-cache']).toBe('HIT')
    expect(other.body).toBe('server=')
  })
})

describe('unless the answer varies on them', () => {
  it('Vary: X-Forwarded-Server: the field is forwarded on the variant\'s fill and each value gets its own variant', async () => {
    const o = origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': 'public, max-age=60', vary: 'X-Forwarded-Server' })
      res.end(`server=${String(req.headers['x-forwarded-server'] ?? '')}`)
    })
    const p = proxy = await startProxy(o.url)
    const plain = await get(`${p.url}/v`, HOST)
    expect(plain.body).toBe('server=')
    const lb1 = await get(`${p.url}/v`, { ...HOST, 'x-forwarded-server': 'lb1' })
    expect(lb1.headers['x-cache']).toBe('MISS')
    expect(lb1.body).toBe('server=lb1')
    expect(o.requests[1]?.headers['x-forwarded-server']).toBe('lb1')
    expect((await get(`${p.url}/v`, HOST)).body).toBe('server=')
    const again = await get(`${p.url}/v`, { ...HOST, 'x-forwarded-server': 'lb1' })
    expect(again.headers['x-cache']).toBe('HIT')
    expect(again.body).toBe('server=lb1')
    expect(o.count).toBe(2)
  })

  it('a first fill that learns the Vary stores its answer as the variant without the field, which was not sent', async () => {
    const o = origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': 'public, max-age=60', vary: 'X-Host' })
      res.end(`host=${String(req.headers['x-host'] ?? '')}`)
    })
    const p = proxy = await startProxy(o.url)
    const forged = await get(`${p.url}/v`, { ...HOST, 'x-host': 'evil.test' })
    expect(forged.body).toBe('host=')
    const plain = await get(`${p.url}/v`, HOST)
    expect(plain.headers['x-cache']).toBe('HIT')
    expect(plain.body).toBe('host=')
    // Now the Vary is known: the field is sent, and its answer is kept apart.
    const asked = await get(`${p.url}/v`, { ...HOST, 'x-host': 'evil.test' })
    expect(asked.body).toBe('host=evil.test')
    expect((await get(`${p.url}/v`, HOST)).body).toBe('host=')
  })
})

describe('or the operator allows them (cache.forwardRequestHeaders)', () => {
  it('forwards the field on fills and keys every page by it, though the origin sends no Vary', async () => {
    const o = origin = await startOrigin(obeying)
    const p = proxy = await startProxy(o.url, { cache: { forwardRequestHeaders: ['X-Forwarded-Server'] } })
    const lb1 = await get(`${p.url}/page`, { ...HOST, 'x-forwarded-server': 'lb1', 'x-host': 'evil.test' })
    expect(lb1.body).toBe(NEUTRAL.replace('x-forwarded-server=', 'x-forwarded-server=lb1'))
    expect(o.requests[0]?.headers['x-forwarded-server']).toBe('lb1')
    expect(o.requests[0]?.headers['x-host']).toBeUndefined()
    const plain = await get(`${p.url}/page`, HOST)
    expect(plain.headers['x-cache']).toBe('MISS')
    expect(plain.body).toBe(NEUTRAL)
    const again = await get(`${p.url}/page`, { ...HOST, 'x-forwarded-server': 'lb1' })
    expect(again.headers['x-cache']).toBe('HIT')
    expect(again.body).toContain('x-forwarded-server=lb1')
    expect(o.count).toBe(2)
  })

  it('refuses a field corral does not drop (a typo), naming the key', () => {
    const config = (names: unknown): string => JSON.stringify({ origin: { url: 'http://127.0.0.1:1' }, cache: { forwardRequestHeaders: names } })
    expect(() => parseConfig(config(['x-forwarded-serer']))).toThrow(ConfigError)
    expect(() => parseConfig(config(['x-forwarded-serer']))).toThrow(/^cache\.forwardRequestHeaders\[0\]: "x-forwarded-serer" is not a field corral drops on fills/)
    expect(() => parseConfig(config(['x host']))).toThrow(/cache\.forwardRequestHeaders\[0\]/)
    expect(parseConfig(config(['X-Host'])).config.cache.forwardRequestHeaders).toEqual(['X-Host'])
    expect(parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:1' } })).config.cache.forwardRequestHeaders).toEqual([])
    expect([...NOT_FORWARDED_ON_FILL]).toEqual(expect.arrayContaining(['x-http-method-override', 'x-http-method', 'x-method-override', ...SHAPING]))
  })
})
