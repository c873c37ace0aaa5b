/**
 * Regressions from the review of streamed responses: a client that stops reading must not hold an origin
 * connection and limiter slot for ever, a request queued for an origin connection must not wait without a deadline,
 * a HEAD answered from an origin GET must not read the whole body, and the clientError handler must not write a
 * status line into a response under way, nor call every socket error a bad request.
 */
import type { ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, manyConnections, rawRequest, type TestProxy } from '../helpers/proxy.js'

const { opened, sockets } = closeAfterEach()

const CHUNK = Buffer.alloc(64 * 1024, 'x')

/**
 * Write `chunks` × 64 KiB with backpressure (`Infinity`: until the connection closes). A body far larger than the
 * kernel's socket buffers (which may take 32 MiB on loopback) shows whether anyone reads it.
 */
function stream (res: ServerResponse, chunks: number): void {
  let left = chunks
  const more = (): void => {
    while (left > 0 && !res.destroyed) {
      left--
      if (left === 0) {
        res.end(CHUNK)
        return
      }
      if (!res.write(CHUNK)) {
        res.once('drain', more)
        return
      }
    }
  }
  more()
}

/** A raw client: sends `head` and collects whatever comes back; `closed` resolves when the proxy ends the socket. */
function rawClient (url: string, head: string): { socket: Socket, data: () => string, closed: Promise<void> } {
  const { port } = new URL(url)
  let data = ''
  const socket = connect(Number(port), '127.0.0.1', () => socket.write(head))
  sockets.push(socket)
  socket.on('data', (d: Buffer) => { data += d.toString('latin1') })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return { socket, data: () => data, closed }
}

function inFlight (p: TestProxy): number {
  return p.proxy.metrics.sources.originInFlight()
}

describe('a client that stops reading a streamed response', () => {
  it('is cut off after origin.timeoutMs: the origin slot comes back and other pages reach the origin again', async () => {
    const o = opened(await startOrigin((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'cache-control': 'no-store' })
        stream(res, Infinity)
      } else {
        res.writeHead(200, { 'cache-control': 'no-store' })
        res.end('other')
      }
    }))
    const p = opened(await startProxy(o.url, { origin: { timeoutMs: 500, maxInFlight: 1, queueSize: 0 } }))
    const stalled = rawClient(p.url, 'GET /big HTTP/1.1\r\nHost: site.test\r\n\r\n')
    stalled.socket.pause()
    await o.arrived(1)

    // The slot is given back once the client has taken nothing for origin.timeoutMs, and the client is hung up on.
    await expect.poll(() => inFlight(p), { timeout: 10_000 }).toBe(0)
    stalled.socket.resume()
    await stalled.closed
    const other = await get(`${p.url}/other`)
    expect(other.status).toBe(200)
    expect(other.body).toBe('other')
    expect(p.logs.find((l) => l.code === 'CORRAL_ERR_CLIENT_STALLED')).toMatchObject({ level: 40, msg: 'client connection aborted' })
  })

  it('a request queued behind busy origin connections gets 504 after origin.timeoutMs, not an endless wait', async () => {
    const o = opened(await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store' })
      if (req.url !== '/drip') {
        res.end('other')
        return
      }
      // A body that trickles for ever, each chunk well inside bodyTimeout: the one connection stays busy.
      const drip = setInterval(() => res.write('.'), 20)
      res.on('close', () => clearInterval(drip))
    }))
    const p = opened(await startProxy(o.url, { origin: { timeoutMs: 500, connections: 1 } }))
    const dripping = await request(`${p.url}/drip`, { dispatcher: manyConnections })
    expect(dripping.statusCode).toBe(200)
    dripping.body.resume()

    const queued = await get(`${p.url}/other`)
    expect(queued.status).toBe(504)
    expect(o.count).toBe(1)
    expect(p.logs.find((l) => l.code === 'CORRAL_ERR_ORIGIN_TIMEOUT')?.cause).toMatch(/queued for a connection/)
    dripping.body.destroy()
  })
})

describe('HEAD answered from a streamed origin GET', () => {
  const BIGGEST = 2048
  it('hangs up on the origin body instead of reading it to the end', async () => {
    let originClosed!: (finished: boolean) => void
    const outcome = new Promise<boolean>((resolve) => { originClosed = resolve })
    const o = opened(await startOrigin((_req, res) => {
      let finished = false
      res.on('finish', () => { finished = true })
      res.on('close', () => originClosed(finished))
      res.writeHead(200, { 'cache-control': 'no-store', 'content-length': String(BIGGEST * CHUNK.length) })
      stream(res, BIGGEST)
    }))
    const p = opened(await startProxy(o.url, { origin: { maxInFlight: 4 } }))
    const head = await get(`${p.url}/big`, {}, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.headers['content-length']).toBe(String(BIGGEST * CHUNK.length))
    expect(o.requests[0]?.method).toBe('GET')
    // The origin's connection closed before its 128 MiB were all sent: corral did not read them.
    expect(await outcome).toBe(false)
    await expect.poll(() => inFlight(p)).toBe(0)
  })
})

describe('errors on the client socket', () => {
  it('a malformed pipelined request does not write a 400 into the response under way', async () => {
    let finish!: () => void
    const rest = new Promise<void>((resolve) => { finish = resolve })
    const o = opened(await startOrigin((_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '10' })
      res.write('01234')
      rest.then(() => res.end('56789'), () => {})
    }))
    const p = opened(await startProxy(o.url))
    const client = rawClient(p.url, 'GET /a HTTP/1.1\r\nHost: site.test\r\n\r\n')
    await expect.poll(() => client.data().endsWith('01234')).toBe(true)
    client.socket.write('BLAH\x01\r\n\r\n')
    await expect.poll(() => p.logs.some((l) => l.msg === 'bad request')).toBe(true)
    finish()
    await client.closed

    const data = client.data()
    expect(data).toMatch(/^HTTP\/1\.1 200 /)
    expect(data).not.toContain('HTTP/1.1 400')
    // Whatever came after the head is a prefix of the body: nothing else was written into it.
    const body = data.slice(data.indexOf('\r\n\r\n') + 4)
    expect('0123456789'.startsWith(body)).toBe(true)
  })

  it('answers oversized request headers with 431, as node:http does', async () => {
    const o = opened(await startOrigin((_req, res) => { res.end('ok') }))
    const p = opened(await startProxy(o.url))
    const answer = await rawRequest(p.url, `GET / HTTP/1.1\r\nHost: site.test\r\nX-Big: ${'a'.repeat(32 * 1024)}`)
    expect(answer).toMatch(/^HTTP\/1\.1 431 /)
    expect(o.count).toBe(0)
    expect(p.logs.find((l) => l.msg === 'bad request')).toMatchObject({ level: 30, code: 'HPE_HEADER_OVERFLOW' })
  })

  it('an origin that breaks off mid-body is logged at warn with its code, not as a bad request', async () => {
    const o = opened(await startOrigin((_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '10' })
      res.write('abc', () => res.destroy())
    }))
    const p = opened(await startProxy(o.url, { origin: { retries: 0 } }))
    const client = rawClient(p.url, 'GET /x HTTP/1.1\r\nHost: site.test\r\n\r\n')
    await client.closed
    expect(client.data()).toMatch(/^HTTP\/1\.1 200 /)
    await expect.poll(() => p.logs.find((l) => l.msg === 'client connection aborted')).toMatchObject({
      level: 40, code: 'CORRAL_ERR_ORIGIN_UNREACHABLE', cause: 'UND_ERR_SOCKET'
    })
    expect(p.logs.some((l) => l.msg === 'bad request')).toBe(false)
  })
})

describe('a client that stops reading a cached page', () => {
  /** An origin answering `page` as cacheable, behind a proxy that may store it and gives clients `timeoutMs`. */
  async function cachedPageSetup (page: Buffer, timeoutMs: number): Promise<{ o: TestOrigin, p: TestProxy }> {
    const o = opened(await startOrigin((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': String(page.length) })
      res.end(page)
    }))
    const p = opened(await startProxy(o.url, {
      origin: { timeoutMs },
      cache: { maxObjectBytes: page.length, memory: { maxBytes: 2 * page.length } }
    }))
    return { o, p }
  }

  it('is cut off after origin.timeoutMs without progress, and the log says why', async () => {
    // Far larger than what the kernel's socket buffers take on loopback (up to 32 MiB here), so most of it waits.
    const page = Buffer.alloc(96 * 1024 * 1024, 'p')
    const { o, p } = await cachedPageSetup(page, 500)
    const first = await request(`${p.url}/big`, { headers: { host: 'site.test' } })
    expect(first.headers['x-cache']).toBe('MISS')
    expect((await first.body.arrayBuffer()).byteLength).toBe(page.length)

    const stalled = rawClient(p.url, 'GET /big HTTP/1.1\r\nHost: site.test\r\n\r\n')
    stalled.socket.pause()
    await expect.poll(() => p.logs.find((l) => l.code === 'CORRAL_ERR_CLIENT_STALLED'), { timeout: 10_000 })
      .toMatchObject({ level: 40, msg: 'client connection aborted' })
    stalled.socket.resume()
    await stalled.closed
    // A HIT that never finished: the connection was closed with most of the page unsent.
    expect(stalled.data()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*x-cache: HIT\r\n/)
    expect(stalled.data().length).toBeLessThan(page.length)
    expect(o.count).toBe(1)
  })

  it('leaves a client that reads its page alone, however large (three 8 MiB hits, no stall)', async () => {
    const page = Buffer.alloc(8 * 1024 * 1024, 'q')
    const { o, p } = await cachedPageSetup(page, 300)
    for (let i = 0; i < 3; i++) {
      const res = await request(`${p.url}/p`, { headers: { host: 'site.test' } })
      expect((await res.body.arrayBuffer()).byteLength).toBe(page.length)
    }
    expect(p.logs.some((l) => l.code === 'CORRAL_ERR_CLIENT_STALLED')).toBe(false)
    expect(o.count).toBe(1)
  })
})
