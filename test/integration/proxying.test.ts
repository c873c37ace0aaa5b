/** Issue 2: proxying behaviour: headers both ways, methods, errors, health, the CLI's config check. */
import { afterEach, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, rawRequest, type TestProxy } from '../helpers/proxy.js'

let origin: TestOrigin | undefined
let proxy: TestProxy | undefined

afterEach(async () => {
  await proxy?.close()
  await origin?.close()
  proxy = undefined
  origin = undefined
})

describe('headers', () => {
  it('strips hop-by-hop headers both ways and adds forwarding headers and Via', async () => {
    origin = await startOrigin((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', connection: 'x-secret-hop', 'x-secret-hop': '1', 'keep-alive': 'timeout=5', 'proxy-authenticate': 'Basic' })
      res.end('ok')
    })
    proxy = await startProxy(origin.url)
    // undici refuses to send Connection-listed fields, which is what this tests: a raw request.
    const raw = await rawRequest(proxy.url, `GET /h HTTP/1.1\r\nHost: ${new URL(proxy.url).host}\r\nx-client-hop: secret\r\nte: trailers\r\nx-forwarded-host: evil.example\r\nproxy-authorization: Basic x\r\nConnection: close, x-client-hop`)
    const seen = origin.requests[0]?.headers ?? {}
    expect(seen['x-client-hop']).toBeUndefined()
    expect(seen.te).toBeUndefined()
    expect(seen['proxy-authorization']).toBeUndefined()
    expect(seen['x-forwarded-for']).toBe('127.0.0.1')
    expect(seen['x-forwarded-proto']).toBe('http')
    // A client cannot choose the forwarded host: it is the Host it actually asked for.
    expect(seen['x-forwarded-host']).toBe(new URL(proxy.url).host)
    expect(seen.via).toBe('1.1 corral')
    expect(raw).not.toMatch(/x-secret-hop/i)
    expect(raw).not.toMatch(/proxy-authenticate/i)
    expect(raw).toMatch(/\r\nvia: 1\.1 corral\r\n/i)
    const hit = await get(`${proxy.url}/h`)
    expect(hit.headers['x-secret-hop']).toBeUndefined()
    expect(hit.headers.via).toBe('1.1 corral')
  })

  it('appends to an existing X-Forwarded-For', async () => {
    origin = await startOrigin(answer(200, {}, 'ok'))
    proxy = await startProxy(origin.url)
    await get(`${proxy.url}/x`, { 'x-forwarded-for': '203.0.113.9' })
    expect(origin.requests[0]?.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1')
  })
})

/** Forwarding fields a client could forge to change what the origin renders, without changing the cache key. */
const FORGED = {
  forwarded: 'for=203.0.113.9;host=evil.example;proto=https',
  'x-forwarded-port': '8443',
  'x-forwarded-prefix': '/evil',
  'x-forwarded-ssl': 'on',
  'x-forwarded-scheme': 'https',
  'x-original-url': '/admin',
  'x-rewrite-url': '/admin'
}

/**
 * A request with `Expect: 100-continue` through node:http (undici will not send Expect): the body, if any, is written
 * only once the server has said 100 Continue.
 */
async function expectContinue (url: string, method: string, body: string): Promise<{ status: number, body: string, continued: boolean }> {
  return await new Promise((resolve, reject) => {
    let continued = false
    const req = httpRequest(url, { method, headers: { expect: '100-continue', 'content-length': String(Buffer.byteLength(body)) } })
    req.on('continue', () => {
      continued = true
      req.end(body)
    })
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, continued }))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

describe('forwarding fields and Expect', () => {
  it('never forwards client-supplied forwarding fields to the origin, on a fill or a pass', async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, 'ok'))
    proxy = await startProxy(origin.url)
    expect((await get(`${proxy.url}/fwd`, FORGED)).headers['x-cache']).toBe('MISS')
    expect((await get(`${proxy.url}/fwd`, { ...FORGED, authorization: 'Bearer x' })).headers['x-cache']).toBe('PASS')
    expect(origin.count).toBe(2)
    for (const seen of origin.requests) {
      for (const name of Object.keys(FORGED)) expect(seen.headers[name], name).toBeUndefined()
      expect(seen.headers['x-forwarded-proto']).toBe('http')
    }
  })

  it('a GET with Expect: 100-continue is filled and cached (undici refuses to send Expect: it was a 502)', async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, 'page'))
    proxy = await startProxy(origin.url)
    const r = await expectContinue(`${proxy.url}/expect`, 'GET', '')
    expect(r).toEqual({ status: 200, body: 'page', continued: true })
    expect(origin.requests[0]?.headers.expect).toBeUndefined()
    expect((await get(`${proxy.url}/expect`)).headers['x-cache']).toBe('HIT')
    expect(origin.count).toBe(1)
  })

  it('a POST with Expect: 100-continue reaches the origin with its body', async () => {
    origin = await startOrigin((req, res) => {
      res.writeHead(201, { 'content-type': 'text/plain' })
      res.end(`got ${req.method ?? ''}`)
    })
    proxy = await startProxy(origin.url)
    const r = await expectContinue(`${proxy.url}/upload`, 'POST', 'the body')
    expect(r).toEqual({ status: 201, body: 'got POST', continued: true })
    expect(origin.requests[0]?.method).toBe('POST')
    expect(origin.requests[0]?.body).toBe('the body')
    expect(origin.requests[0]?.headers.expect).toBeUndefined()
  })
})

describe('methods', () => {
  it('passes POST through with its body, and a successful POST invalidates the cached URL', async () => {
    origin = await startOrigin((req, res, n) => {
      if (req.method === 'POST') {
        res.writeHead(201, { 'content-type': 'text/plain' })
        res.end('created')
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end(`get-${n}`)
    })
    const seen = origin.requests
    const p = proxy = await startProxy(origin.url)
    expect((await get(`${proxy.url}/item`)).body).toBe('get-1')
    expect((await get(`${proxy.url}/item`)).headers['x-cache']).toBe('HIT')
    const post = await get(`${proxy.url}/item`, { 'content-type': 'text/plain' }, 'POST', 'hello')
    expect(post.status).toBe(201)
    expect(post.headers['x-cache']).toBe('PASS')
    expect(seen[1]?.method).toBe('POST')
    expect(seen[1]?.body).toBe('hello')
    await expect.poll(async () => (await get(`${p.url}/item`)).headers['x-cache']).toBe('MISS')
  })

  it('invalidation marks the entry stale rather than deleting it: the next GET revalidates with its validator', async () => {
    const o = origin = await startOrigin((req, res) => {
      if (req.method === 'PUT') {
        res.writeHead(204)
        res.end()
        return
      }
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { 'cache-control': 'max-age=60', etag: '"v1"' })
        res.end()
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"v1"' })
      res.end('body-v1')
    })
    const p = proxy = await startProxy(o.url)
    await get(`${p.url}/doc`)
    expect((await get(`${p.url}/doc`, {}, 'PUT', 'x')).status).toBe(204)
    await expect.poll(async () => (await get(`${p.url}/doc`)).headers['x-cache']).toBe('REVALIDATED')
    const revalidation = o.requests.find((r) => r.method === 'GET' && r.headers['if-none-match'] === '"v1"')
    expect(revalidation).toBeDefined()
    expect((await get(`${p.url}/doc`)).body).toBe('body-v1')
  })

  it('a failed unsafe request does not invalidate', async () => {
    origin = await startOrigin((req, res, n) => {
      res.writeHead(req.method === 'DELETE' ? 500 : 200, { 'cache-control': 'max-age=60' })
      res.end(`r-${n}`)
    })
    proxy = await startProxy(origin.url)
    await get(`${proxy.url}/keep`)
    expect((await get(`${proxy.url}/keep`, {}, 'DELETE')).status).toBe(500)
    expect((await get(`${proxy.url}/keep`)).headers['x-cache']).toBe('HIT')
  })
})

describe('origin failures', () => {
  it('origin down → 502 with a short text body and a log line', async () => {
    origin = await startOrigin(answer(200, {}, ''))
    const url = origin.url
    await origin.close()
    const p = proxy = await startProxy(url, { origin: { retries: 0 } })
    const r = await get(`${p.url}/x`)
    expect(r.status).toBe(502)
    expect(r.body).toBe('origin unreachable\n')
    expect(r.headers['x-cache']).toBe('MISS')
    await expect.poll(() => p.logs.some((l) => l.code === 'CORRAL_ERR_ORIGIN_UNREACHABLE')).toBe(true)
    origin = await startOrigin(answer(200, {}, ''))
  })

  it('origin timeout → 504', async () => {
    origin = await startOrigin(() => {})
    proxy = await startProxy(origin.url, { origin: { timeoutMs: 200 } })
    const r = await get(`${proxy.url}/slow`)
    expect(r.status).toBe(504)
    expect(r.body).toBe('origin timed out\n')
    expect(proxy.logs.some((l) => l.code === 'CORRAL_ERR_ORIGIN_TIMEOUT')).toBe(true)
  })

  it('retries an idempotent request once after a connection reset', async () => {
    origin = await startOrigin((_req, res, n) => {
      if (n === 1) {
        res.socket?.destroy()
        return
      }
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end('second try')
    })
    proxy = await startProxy(origin.url, { origin: { retries: 1 } })
    const r = await get(`${proxy.url}/flaky`)
    expect(r.status).toBe(200)
    expect(r.body).toBe('second try')
    expect(origin.count).toBe(2)
  })

  it('never retries a POST', async () => {
    origin = await startOrigin((_req, res) => { res.socket?.destroy() })
    proxy = await startProxy(origin.url, { origin: { retries: 2 } })
    const r = await get(`${proxy.url}/p`, {}, 'POST', 'x')
    expect(r.status).toBe(502)
    expect(origin.count).toBe(1)
  })
})

describe('access log', () => {
  it('writes one line per request with cache status, bytes and timings', async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, 'hello'))
    const p = proxy = await startProxy(origin.url)
    await get(`${p.url}/log`)
    await get(`${p.url}/log`)
    await expect.poll(() => p.logs.filter((l) => l.msg === 'access').length).toBe(2)
    const [miss, hit] = p.logs.filter((l) => l.msg === 'access')
    expect(miss).toMatchObject({ method: 'GET', url: '/log', status: 200, cache: 'MISS', bytes: 5, originStatus: 200 })
    expect(typeof miss?.originMs).toBe('number')
    expect(hit).toMatchObject({ cache: 'HIT', bytes: 5 })
    expect(hit?.key).toBeUndefined()
  })

  it('keeps the line valid JSON when the request target holds a quote or a backslash', async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, 'hello'))
    const p = proxy = await startProxy(origin.url)
    const reply = await rawRequest(p.url, `GET /q"x\\y HTTP/1.1\r\nHost: ${new URL(p.url).host}\r\nConnection: close`)
    expect(reply).toMatch(/^HTTP\/1\.1 200/)
    await expect.poll(() => p.logs.filter((l) => l.msg === 'access').length).toBe(1)
    expect(p.logs.find((l) => l.msg === 'access')?.url).toBe('/q"x\\y')
  })

  it('adds the pipeline trace to each line while the trace flag is on', async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, 'hello'))
    const p = proxy = await startProxy(origin.url, { flags: { trace: true } })
    await get(`${p.url}/traced`)
    await expect.poll(() => p.logs.some((l) => l.msg === 'access')).toBe(true)
    const line = p.logs.find((l) => l.msg === 'access')
    expect(line).toMatchObject({ key: `${new URL(p.url).host}/traced`, route: '*', tier: 'none', coalesced: false, cache: 'MISS' })
  })
})

describe('receive', () => {
  it('answers the load balancer health path on the main listener', async () => {
    origin = await startOrigin(answer(200, {}, ''))
    proxy = await startProxy(origin.url)
    const r = await get(`${proxy.url}/__corral/health`)
    expect(r.status).toBe(200)
    expect(r.body).toBe('ok\n')
    expect(origin.count).toBe(0)
  })

  it('answers a malformed request with 400 and keeps serving', async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, 'fine'))
    proxy = await startProxy(origin.url)
    const reply = await rawRequest(proxy.url, 'GARBAGE')
    expect(reply).toMatch(/^HTTP\/1.1 400/)
    expect((await get(`${proxy.url}/after`)).body).toBe('fine')
  })
})

describe('corral check', () => {
  const run = promisify(execFile)
  const cli = join(import.meta.dirname, '../../src/cli.ts')

  async function check (config: string): Promise<{ code: number, out: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'corral-check-'))
    const file = join(dir, 'proxy.config.json')
    writeFileSync(file, config)
    try {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', cli, 'check', '--config', file])
      return { code: 0, out: stdout }
    } catch (err) {
      const e = err as { code: number, stderr: string }
      return { code: e.code, out: e.stderr }
    }
  }

  it('accepts the shipped proxy.config.json', async () => {
    const { readFileSync } = await import('node:fs')
    const r = await check(readFileSync(join(import.meta.dirname, '../../proxy.config.json'), 'utf8'))
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/ok \(version [0-9a-f]{12}\)/)
  })

  it.each([
    ['{ "origin": { "url": "http://127.0.0.1:3000", "timeoutMs": "soon" } }', 'origin.timeoutMs: must be a whole number (got "soon")'],
    ['{ "origin": { "url": "http://127.0.0.1:3000" }, "cache": { "bogus": 1 } }', 'cache.bogus: unknown key'],
    ['{ "listen": {} }', 'origin: is required'],
    ['{ "origin": { "url": "http://127.0.0.1:3000" }, ', 'invalid JSON']
  ])('rejects %s naming the key', async (config, message) => {
    const r = await check(config)
    expect(r.code).toBe(1)
    expect(r.out).toContain(message)
  })
})
