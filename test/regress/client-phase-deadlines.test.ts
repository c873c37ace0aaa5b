/**
 * Issue 23, item 1: every phase of a client connection has a deadline (a silent connection, a slow body, answers
 * left unread on a pipelined connection, an idle keep-alive), and a client that goes away takes its pass's origin
 * request with it. All through real sockets: a raw client, the proxy, a counting origin.
 */
import { connect, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin } from '../helpers/origin.js'
import { startProxy, get } from '../helpers/proxy.js'

const { opened, sockets } = closeAfterEach()

/** A raw client: `closed` resolves when the proxy ends the socket; `data` is whatever came back. */
function rawClient (url: string, head = ''): { socket: Socket, data: () => string, closed: Promise<void> } {
  const { port } = new URL(url)
  let data = ''
  const socket = connect(Number(port), '127.0.0.1', () => { if (head !== '') socket.write(head) })
  sockets.push(socket)
  socket.on('data', (d: Buffer) => { data += d.toString('latin1') })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return { socket, data: () => data, closed }
}

/** Resolves with the ms from now to `p`, or rejects after `limitMs`: the deadline under test is the assertion. */
async function within (p: Promise<void>, limitMs: number): Promise<number> {
  const start = Date.now()
  let timer: ReturnType<typeof setTimeout> | undefined
  const limit = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`still open after ${limitMs} ms`)), limitMs) })
  try {
    await Promise.race([p, limit])
  } finally {
    clearTimeout(timer)
  }
  return Date.now() - start
}

describe('a connection that never sends a byte', () => {
  it('is closed after listen.firstByteTimeoutMs, and other clients are still served', async () => {
    const o = opened(await startOrigin((_req, res) => { res.writeHead(200, { 'cache-control': 'no-store' }); res.end('ok') }))
    const p = opened(await startProxy(o.url, { listen: { firstByteTimeoutMs: 1000 } }))
    const silent = Array.from({ length: 20 }, () => rawClient(p.url))
    await within(Promise.all(silent.map(async (c) => await c.closed)).then(() => {}), 5000)
    expect((await get(`${p.url}/x`)).body).toBe('ok')
  })

  it('leaves a connection alone that sent its request in time', async () => {
    const o = opened(await startOrigin((_req, res) => { setTimeout(() => { res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '7' }); res.end('slow ok') }, 1500) }))
    const p = opened(await startProxy(o.url, { listen: { firstByteTimeoutMs: 1000 } }))
    const c = rawClient(p.url, 'GET /slow HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n')
    await within(c.closed, 8000)
    expect(c.data()).toMatch(/^HTTP\/1\.1 200 [\s\S]*slow ok$/)
  })
})

describe('a slow request body', () => {
  it('is cut at listen.requestTimeoutMs, and its origin request is aborted', async () => {
    const o = opened(await startOrigin((_req, res) => { res.writeHead(200, { 'cache-control': 'no-store' }); res.end('ok') }))
    const p = opened(await startProxy(o.url, { listen: { requestTimeoutMs: 1000, headersTimeoutMs: 1000 }, origin: { timeoutMs: 60_000 } }))
    const c = rawClient(p.url, 'POST /upload HTTP/1.1\r\nHost: site.test\r\nContent-Length: 100000\r\n\r\n')
    const drip = setInterval(() => { if (!c.socket.destroyed) c.socket.write('x') }, 100)
    try {
      await o.arrived(1)
      expect(o.inFlight).toBe(1)
      await within(c.closed, 5000)
      // The origin's side of the exchange is gone too: its connection closed without the body ever completing.
      await expect.poll(() => o.inFlight, { timeout: 3000 }).toBe(0)
    } finally {
      clearInterval(drip)
    }
    expect(p.logs.some((l) => l.msg === 'request timeout')).toBe(true)
  })
})

describe('a client that goes away', () => {
  it('mid-body aborts its origin request at once', async () => {
    const o = opened(await startOrigin((_req, res) => { res.end('ok') }))
    const p = opened(await startProxy(o.url, { origin: { timeoutMs: 60_000 } }))
    const c = rawClient(p.url, 'POST /upload HTTP/1.1\r\nHost: site.test\r\nContent-Length: 100000\r\n\r\nabc')
    await o.arrived(1)
    expect(o.inFlight).toBe(1)
    c.socket.destroy()
    await expect.poll(() => o.inFlight, { timeout: 3000 }).toBe(0)
  })

  it('while its pass waits for the origin aborts the origin request at once', async () => {
    const o = opened(await startOrigin((_req, res) => { res.end('ok') }))
    const p = opened(await startProxy(o.url, { origin: { timeoutMs: 60_000 } }))
    o.hold()
    const c = rawClient(p.url, 'POST /form HTTP/1.1\r\nHost: site.test\r\nContent-Length: 3\r\n\r\nabc')
    await o.arrived(1)
    expect(o.inFlight).toBe(1)
    c.socket.destroy()
    await expect.poll(() => o.inFlight, { timeout: 3000 }).toBe(0)
    // A client that left is not an origin failure: nothing counted against the origin.
    const errors = await p.proxy.metrics.originErrors.get()
    expect(errors.values.reduce((sum, v) => sum + v.value, 0)).toBe(0)
    o.release()
  })
})

describe('a client whose GET is fetched for it alone', () => {
  it.each([['a hit-for-pass URL', {}], ['an Authorization request', { authorization: 'Bearer x' }]])('(%s) aborts its origin request when it goes away', async (_what, headers) => {
    const o = opened(await startOrigin((_req, res) => { res.writeHead(200, { 'cache-control': 'private' }); res.end('mine') }))
    const p = opened(await startProxy(o.url, { origin: { timeoutMs: 60_000 } }))
    // An anonymous private answer makes the URL hit-for-pass.
    expect((await get(`${p.url}/me`, { host: 'site.test' })).body).toBe('mine')
    o.hold()
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
    const c = rawClient(p.url, `GET /me HTTP/1.1\r\nHost: site.test\r\n${lines}\r\n`)
    await o.arrived(2)
    expect(o.inFlight).toBe(1)
    c.socket.destroy()
    await expect.poll(() => o.inFlight, { timeout: 3000 }).toBe(0)
    const errors = await p.proxy.metrics.originErrors.get()
    expect(errors.values.reduce((sum, v) => sum + v.value, 0)).toBe(0)
    o.release()
  })
})

describe('an origin that trickles a cacheable body', () => {
  it('is cut after origin.fillBodyTimeoutMs: the client gets 504, the origin connection is closed', async () => {
    const o = opened(await startOrigin((_req, res) => {
      // Under the size that streams while filling: the body is read whole before anyone is answered.
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '50000' })
      // One byte well inside every bodyTimeout, for ever.
      const drip = setInterval(() => res.write('.'), 50)
      res.on('close', () => clearInterval(drip))
    }))
    const p = opened(await startProxy(o.url, { origin: { timeoutMs: 300, fillBodyTimeoutMs: 1000 } }))
    const answer = await get(`${p.url}/slow`, { host: 'site.test' })
    expect(answer.status).toBe(504)
    await expect.poll(() => o.inFlight, { timeout: 3000 }).toBe(0)
  })
  it('streamed while it fills, is cut after origin.fillBodyTimeoutMs: the client sees the body fail, the origin is asked once', async () => {
    const o = opened(await startOrigin((_req, res) => {
      // Over the size that streams while filling: the client has its headers and the first bytes before the cut.
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '100000' })
      const drip = setInterval(() => res.write('.'), 50)
      res.on('close', () => clearInterval(drip))
    }))
    const p = opened(await startProxy(o.url, { origin: { timeoutMs: 300, fillBodyTimeoutMs: 1000 } }))
    // A short body that looked whole would resolve; a body cut before its Content-Length must reject.
    await expect(get(`${p.url}/slow`, { host: 'site.test' })).rejects.toThrow()
    await expect.poll(() => o.inFlight, { timeout: 3000 }).toBe(0)
    expect(o.count).toBe(1)
  })
})

describe('answers a pipelining client never reads', () => {
  it('are dropped with the connection once its unwritten bytes make no progress for origin.timeoutMs', async () => {
    const page = Buffer.alloc(900 * 1024, 'p')
    const o = opened(await startOrigin((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': String(page.length) })
      res.end(page)
    }))
    const p = opened(await startProxy(o.url, {
      origin: { timeoutMs: 1000 }, cache: { maxObjectBytes: page.length, memory: { maxBytes: 4 * page.length } }
    }))
    expect((await get(`${p.url}/big`, { host: 'site.test' })).body.length).toBe(page.length)
    const eight = 'GET /big HTTP/1.1\r\nHost: site.test\r\n\r\n'.repeat(8)
    const c = rawClient(p.url, eight)
    c.socket.pause()
    // A paused client sees no close until it reads: the proxy's log line says when it hung up.
    await expect.poll(() => p.logs.find((l) => l.code === 'CORRAL_ERR_CLIENT_STALLED'), { timeout: 8000 })
      .toMatchObject({ level: 40, msg: 'client connection aborted' })
    c.socket.resume()
    await within(c.closed, 5000)
    expect(c.data().length).toBeLessThan(8 * page.length)
    expect(o.count).toBe(1)
  })

  it('are cut once more than listen.maxUnwrittenBytes wait behind the one being written', async () => {
    const page = Buffer.alloc(900 * 1024, 'p')
    const o = opened(await startOrigin((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': String(page.length) })
      res.end(page)
    }))
    const p = opened(await startProxy(o.url, {
      listen: { maxUnwrittenBytes: 1024 * 1024 },
      origin: { timeoutMs: 60_000 },
      cache: { maxObjectBytes: page.length, memory: { maxBytes: 4 * page.length } }
    }))
    expect((await get(`${p.url}/big`, { host: 'site.test' })).body.length).toBe(page.length)
    const c = rawClient(p.url, 'GET /big HTTP/1.1\r\nHost: site.test\r\n\r\n'.repeat(64))
    c.socket.pause()
    await expect.poll(() => p.logs.find((l) => l.code === 'CORRAL_ERR_CLIENT_BACKLOG'), { timeout: 5000 })
      .toMatchObject({ level: 40, msg: 'client connection aborted' })
    c.socket.resume()
    await within(c.closed, 5000)
    expect(c.data().length).toBeLessThan(64 * page.length)
  })
})

describe('an idle keep-alive connection', () => {
  it('is closed after listen.keepAliveTimeoutMs', async () => {
    const o = opened(await startOrigin((_req, res) => { res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '2' }); res.end('ok') }))
    const p = opened(await startProxy(o.url, { listen: { keepAliveTimeoutMs: 500 } }))
    const c = rawClient(p.url, 'GET /a HTTP/1.1\r\nHost: site.test\r\n\r\n')
    await expect.poll(() => c.data().endsWith('ok')).toBe(true)
    await within(c.closed, 3000)
  })
})
