import { createServer, type Server, type ServerOptions } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { setTimeout as wait } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { answer, startOrigin } from './helpers/origin.js'
import { startProxy } from './helpers/proxy.js'
import { deliverHit } from '../src/deliver.js'
import { currentDate } from '../src/deliver-head.js'
import { makeEntry } from './store/records.js'

/**
 * A hit's head prepared once per second (deliver-head.ts), over real sockets: the bytes are the ones writeHead built,
 * and every answer node:http would write differently (HTTP/1.0, Connection: close, a socket's last request, another
 * keep-alive setting, the next second) is built by writeHead again.
 */
const entry = makeEntry('k/prepared-head', {
  headers: ['content-type', 'text/plain', 'content-length', '512', 'cache-control', 'max-age=60', 'x-unicode', 'ünï']
})
let served = entry
const NOW = entry.storedAt + 1000

interface Served { server: Server, port: number, wroteHead: boolean[] }
const servers: Server[] = []

async function serve (options: ServerOptions & { keepAliveTimeout?: number } = {}): Promise<Served> {
  const wroteHead: boolean[] = []
  const server = createServer(options, (req, res) => {
    let wrote = false
    const writeHead = res.writeHead.bind(res)
    res.writeHead = ((...args: Parameters<typeof res.writeHead>) => { wrote = true; return writeHead(...args) }) as typeof res.writeHead
    const id = req.headers['x-id']
    deliverHit(res, served, NOW, req.method === 'HEAD', typeof id === 'string' ? id : null, new Set(), served)
    wroteHead.push(wrote)
  })
  if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, wroteHead }
}

afterEach(async () => {
  served = entry
  for (const s of servers.splice(0)) await new Promise(resolve => s.close(resolve))
})

/** One connection that sends a request and reads back one whole response (head, and a body of its Content-Length). */
class Conn {
  readonly #socket: Socket
  #buffered = Buffer.alloc(0)
  #wake: (() => void) | null = null
  #closed = false

  constructor (port: number) {
    this.#socket = connect(port, '127.0.0.1')
    this.#socket.on('data', (chunk: Buffer) => { this.#buffered = Buffer.concat([this.#buffered, chunk]); this.#wake?.() })
    this.#socket.on('close', () => { this.#closed = true; this.#wake?.() })
  }

  async ask (request: string, head = false): Promise<{ head: string, body: string }> {
    this.#socket.write(request)
    for (;;) {
      const end = this.#buffered.indexOf('\r\n\r\n')
      if (end >= 0) {
        const text = this.#buffered.subarray(0, end + 4).toString('latin1')
        const chunked = !head && /\r\nTransfer-Encoding: chunked\r\n/.test(text)
        const last = chunked ? this.#buffered.indexOf('\r\n0\r\n\r\n', end + 2) : -1
        const length = head ? 0 : chunked ? (last < 0 ? Infinity : last + 7 - end - 4) : Number(/\r\ncontent-length: (\d+)/i.exec(text)?.[1] ?? 0)
        if (this.#buffered.length >= end + 4 + length) {
          const body = this.#buffered.subarray(end + 4, end + 4 + length).toString('latin1')
          this.#buffered = this.#buffered.subarray(end + 4 + length)
          return { head: text, body }
        }
      }
      if (this.#closed) throw new Error('connection closed before a whole response')
      await new Promise<void>(resolve => { this.#wake = resolve })
    }
  }

  get closed (): boolean { return this.#closed }
  close (): void { this.#socket.destroy() }
}

const get = (id: string, extra = ''): string => `GET /page HTTP/1.1\r\nhost: a\r\nx-id: ${id}\r\n${extra}\r\n`
const dateOf = (head: string): string => /\r\nDate: ([^\r]+)\r\n/.exec(head)?.[1] ?? ''

/**
 * Hits on one connection until one reuses the head prepared in its second (no writeHead, the same Date as the hit
 * before it): the first pair, unless a second turns between them.
 */
async function pairInOneSecond (conn: Conn, s: Served): Promise<[string, string, number]> {
  const base = s.wroteHead.length
  let prior = await conn.ask(get('r0'))
  for (let i = 1; i < 8; i++) {
    const next = await conn.ask(get(`r${i}`))
    if (s.wroteHead[base + i] === false && dateOf(next.head) === dateOf(prior.head)) return [prior.head, next.head, i]
    prior = next
  }
  throw new Error('no hit reused the head prepared in its second')
}

describe('a prepared hit head', () => {
  it('is the head writeHead built for the second\'s first hit, with the request id spliced in', async () => {
    const s = await serve()
    const conn = new Conn(s.port)
    const [first, second, i] = await pairInOneSecond(conn, s)
    expect(s.wroteHead[i]).toBe(false)
    expect(second).toBe(first.replace(`x-request-id: r${i - 1}\r\n`, `x-request-id: r${i}\r\n`))
    expect(second).toMatch(/^HTTP\/1\.1 200 OK\r\ncontent-type: text\/plain\r\n.*x-unicode: ünï\r\nage: \d+\r\nx-cache: HIT\r\n/s)
    expect(second).toMatch(/\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n$/)
    const plain = await conn.ask('GET /page HTTP/1.1\r\nhost: a\r\n\r\n')
    expect(plain.body).toBe(entry.body.toString('latin1'))
    if (dateOf(plain.head) === dateOf(second)) expect(plain.head).toBe(second.replace(`x-request-id: r${i}\r\n`, ''))
    conn.close()
  })

  it('keeps the origin\'s Date from the stored list: node:http adds none, and the head is still reused', async () => {
    served = makeEntry('k/dated-head', {
      headers: ['content-type', 'text/plain', 'date', 'Sat, 05 Dec 2026 10:00:00 GMT', 'content-length', '512']
    })
    const s = await serve()
    const conn = new Conn(s.port)
    // No Date of node:http's tells the seconds apart here: the first of five hits that reused a head is compared.
    const heads = []
    for (let n = 0; n < 5; n++) heads.push((await conn.ask(get(`r${n}`))).head)
    const i = s.wroteHead.indexOf(false, 1)
    expect(i).toBeGreaterThan(0)
    const second = heads[i] as string
    expect(second).toBe((heads[i - 1] as string).replace(`x-request-id: r${i - 1}\r\n`, `x-request-id: r${i}\r\n`))
    expect(second.match(/\r\ndate: /gi)).toEqual(['\r\ndate: '])
    expect(second).toMatch(/\r\nx-request-id: r\d\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n$/)
    conn.close()
  })

  it('answers HEAD with the same head and no body', async () => {
    const s = await serve()
    const conn = new Conn(s.port)
    const [, second, i] = await pairInOneSecond(conn, s)
    const head = await conn.ask(`HEAD /page HTTP/1.1\r\nhost: a\r\nx-id: r${i}\r\n\r\n`, true)
    if (dateOf(head.head) === dateOf(second)) {
      expect(head.head).toBe(second)
      expect(s.wroteHead.at(-1)).toBe(false)
    }
    // The response after it starts right after the head: no body bytes were written.
    expect((await conn.ask(get('after'))).head).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    conn.close()
  })

  it('serves pipelined requests each their own head, in order', async () => {
    const s = await serve()
    const conn = new Conn(s.port)
    await pairInOneSecond(conn, s)
    const first = await conn.ask(get('p1') + get('p2') + get('p3'))
    const rest = [await conn.ask(''), await conn.ask('')]
    expect([first, ...rest].map(r => /\r\nx-request-id: (\w+)\r\n/.exec(r.head)?.[1])).toEqual(['p1', 'p2', 'p3'])
    for (const r of [first, ...rest]) expect(r.body).toBe(entry.body.toString('latin1'))
    conn.close()
  })

  it('is not used where node:http writes another head: HTTP/1.0, Connection: close, the last request', async () => {
    const s = await serve()
    await pairInOneSecond(new Conn(s.port), s)

    const old = new Conn(s.port)
    const http10 = await old.ask('GET /page HTTP/1.0\r\nx-id: old\r\n\r\n')
    expect(s.wroteHead.at(-1)).toBe(true)
    expect(http10.head).toMatch(/\r\nConnection: close\r\n\r\n$/)
    expect(http10.body).toBe(entry.body.toString('latin1'))

    const closing = await new Conn(s.port).ask(get('close', 'connection: close\r\n'))
    expect(s.wroteHead.at(-1)).toBe(true)
    expect(closing.head).toMatch(/\r\nConnection: close\r\n\r\n$/)

    const limited = await serve()
    limited.server.maxRequestsPerSocket = 2
    const conn = new Conn(limited.port)
    expect((await conn.ask(get('1'))).head).toMatch(/\r\nKeep-Alive: timeout=5, max=2\r\n\r\n$/)
    const last = await conn.ask(get('2'))
    expect(limited.wroteHead[1]).toBe(true)
    expect(last.head).toMatch(/\r\nConnection: close\r\n\r\n$/)
  })

  it('follows the connection\'s keep-alive setting', async () => {
    const five = await serve()
    await pairInOneSecond(new Conn(five.port), five)
    const seven = await serve({ keepAliveTimeout: 7000 })
    const conn = new Conn(seven.port)
    const answer = await conn.ask(get('seven'))
    expect(seven.wroteHead[0]).toBe(true)
    expect(answer.head).toMatch(/\r\nKeep-Alive: timeout=7\r\n\r\n$/)
    conn.close()
  })

  it('is never made from a head without a declared length: HEAD first, then GET is chunked', async () => {
    served = makeEntry('k/unsized-head', { headers: ['content-type', 'text/plain'] })
    const s = await serve()
    const conn = new Conn(s.port)
    for (let i = 0; i < 3; i++) {
      const head = await conn.ask(`HEAD /page HTTP/1.1\r\nhost: a\r\nx-id: h${i}\r\n\r\n`, true)
      expect(head.head).not.toMatch(/content-length/i)
      const got = await conn.ask(get(`g${i}`))
      expect(got.head).toMatch(/\r\nTransfer-Encoding: chunked\r\n\r\n$/)
      expect(got.body).toBe(`200\r\n${served.body.toString('latin1')}\r\n0\r\n\r\n`)
    }
    expect(s.wroteHead.every(Boolean)).toBe(true)
    conn.close()
  })

  it('carries the current Date: the next second builds the head again', async () => {
    const s = await serve()
    const conn = new Conn(s.port)
    const [, second] = await pairInOneSecond(conn, s)
    const before = dateOf(second)
    // The event under test is the wall clock's next second, which no fake clock moves (node:http reads it too), and
    // the prepared heads' date dropped at it by its timer.
    while (new Date().toUTCString() === before) await wait(1000 - new Date().getMilliseconds())
    for (;;) {
      if (currentDate !== before) break
      await wait(1)
    }
    await conn.ask(get('turn'))
    expect(s.wroteHead.at(-1)).toBe(true)
    // The head built at the turn is the one reused next, with the new second's Date.
    let reused: string | null = null
    for (let i = 0; i < 5 && reused === null; i++) {
      const next = await conn.ask(get(`after${i}`))
      if (s.wroteHead.at(-1) === false) reused = next.head
    }
    expect(reused).not.toBe(null)
    expect(dateOf(reused as string)).not.toBe(before)
    expect(Math.abs(Date.parse(dateOf(reused as string)) - Date.now())).toBeLessThan(2000)
    conn.close()
  })
})

describe('prepared hit heads through the proxy', () => {
  it('every hit carries its own request id, the one in its access line, and the stored length', async () => {
    const page = 'p'.repeat(1000)
    const origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, page))
    const proxy = await startProxy(origin.url)
    try {
      const conn = new Conn(Number(new URL(proxy.url).port))
      expect((await conn.ask('GET /p HTTP/1.1\r\nhost: a\r\nx-request-id: fill\r\n\r\n')).body).toBe(page)
      const ids: string[] = []
      const heads: string[] = []
      for (const id of ['h-1', 'h-2', null, 'h-3', null]) {
        const got = await conn.ask(`GET /p HTTP/1.1\r\nhost: a\r\n${id === null ? '' : `x-request-id: ${id}\r\n`}\r\n`)
        expect(got.body).toBe(page)
        expect(got.head).toMatch(/\r\nx-cache: HIT\r\n/)
        expect(got.head).toMatch(/\r\ncontent-length: 1000\r\n/)
        const sent = /\r\nx-request-id: ([^\r]+)\r\n/.exec(got.head)?.[1] as string
        if (id !== null) expect(sent).toBe(id)
        ids.push(sent)
        // Age and the ttl tick with the second; the rest of the head is the same for every hit of the page.
        heads.push(got.head.replace(/\r\nx-request-id: [^\r]+\r\n/, '\r\n').replace(/\r\nage: \d+\r\n/, '\r\n').replace(/ttl=\d+/, ''))
      }
      expect(new Set(ids).size).toBe(ids.length)
      for (let i = 1; i < heads.length; i++) if (dateOf(heads[i] as string) === dateOf(heads[i - 1] as string)) expect(heads[i]).toBe(heads[i - 1])
      await expect.poll(() => proxy.logs.filter(l => l['msg'] === 'access').length).toBe(6)
      expect(proxy.logs.filter(l => l['msg'] === 'access').slice(1).map(l => l['requestId'])).toEqual(ids)
      conn.close()
    } finally {
      await proxy.close()
      await origin.close()
    }
  })
})
