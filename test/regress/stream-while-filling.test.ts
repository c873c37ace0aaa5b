/**
 * Issue 22, items 3 and 6: a large storable answer streams to its leader and every waiter while it arrives, from one
 * origin fetch; an origin that dies mid-body cuts every client of that fetch off (never a short body that looks
 * whole) and leaves nothing stored. The origin sends a first piece and then holds the rest on a gate the test opens.
 */
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startOrigin, type OriginHandler } from '../helpers/origin.js'
import { startProxy, manyConnections, type TestProxy } from '../helpers/proxy.js'
import { closeAfterEach } from '../helpers/opened.js'
import { bytesOf } from '../helpers/byte-origin.js'

const { opened } = closeAfterEach()
const SIZE = 2 * 1024 * 1024
const FIRST = 256 * 1024

interface Gate { open: () => void, opened: Promise<void> }
function gate (): Gate {
  let open = (): void => {}
  const promise = new Promise<void>((resolve) => { open = resolve })
  return { open, opened: promise }
}

/** Sends FIRST bytes, waits for `rest`, then the remainder (or, with `die`, destroys the connection instead). */
function heldBody (rest: Gate, die = false, headers: Record<string, string> = { 'cache-control': 'max-age=600' }): OriginHandler {
  const whole = bytesOf(0, SIZE)
  return async (_req, res) => {
    res.writeHead(200, { ...headers, 'content-type': 'video/mp4', 'content-length': String(SIZE) })
    res.write(whole.subarray(0, FIRST))
    await rest.opened
    if (die) res.socket?.destroy()
    else res.end(whole.subarray(FIRST))
  }
}

interface Client {
  status: number
  headers: Record<string, unknown>
  firstByte: Promise<void>
  done: Promise<{ body: Buffer } | { error: Error }>
}

async function client (proxy: TestProxy, path: string, headers: Record<string, string> = {}): Promise<Client> {
  const res = await request(`${proxy.url}${path}`, { headers, dispatcher: manyConnections })
  const first = gate()
  const chunks: Buffer[] = []
  const done = (async () => {
    try {
      for await (const chunk of res.body) {
        chunks.push(chunk as Buffer)
        first.open()
      }
      first.open()
      return { body: Buffer.concat(chunks) }
    } catch (err) {
      first.open()
      return { error: err as Error }
    }
  })()
  return { status: res.statusCode, headers: res.headers, firstByte: first.opened, done }
}

describe('issue 22: stream while filling', () => {
  it('50 concurrent clients get their first bytes while the origin still holds the rest; one origin fetch', async () => {
    const rest = gate()
    const origin = opened(await startOrigin(heldBody(rest)))
    const proxy = opened(await startProxy(origin.url))
    const clients = await Promise.all(Array.from({ length: 50 }, async () => await client(proxy, '/clip.mp4')))
    // Every client has bytes although the origin has sent only its first piece: they cannot have come from a stored copy.
    await Promise.all(clients.map(async c => await c.firstByte))
    expect(origin.count).toBe(1)
    // One arriving now joins the same fetch.
    const late = await client(proxy, '/clip.mp4')
    await late.firstByte
    rest.open()
    const expected = bytesOf(0, SIZE)
    for (const c of [...clients, late]) {
      const done = await c.done
      expect('body' in done && done.body.equals(expected)).toBe(true)
      expect(c.status).toBe(200)
    }
    const statuses = [...clients, late].map(c => String(c.headers['cache-status']))
    expect(statuses.filter(s => s === 'corral; fwd=uri-miss; detail=streamed')).toHaveLength(1)
    expect(statuses.filter(s => s === 'corral; hit; detail=collapsed-streamed')).toHaveLength(50)
    // Stored once complete: the next request is a plain hit.
    const after = await client(proxy, '/clip.mp4')
    expect(after.headers['x-cache']).toBe('HIT')
    const body = await after.done
    expect('body' in body && body.body.length).toBe(SIZE)
    expect(origin.count).toBe(1)
    const lines = proxy.logs.filter(l => l['msg'] === 'access' && l['body'] === 'streamed')
    expect(lines).toHaveLength(51)
  })

  it('a Range miss is answered as soon as its bytes arrive, from the one fill', async () => {
    const rest = gate()
    const origin = opened(await startOrigin(heldBody(rest)))
    const proxy = opened(await startProxy(origin.url))
    const whole = await client(proxy, '/seek.mp4')
    await whole.firstByte
    const early = await client(proxy, '/seek.mp4', { range: 'bytes=1000-1999' })
    expect(early.status).toBe(206)
    expect(early.headers['content-range']).toBe(`bytes 1000-1999/${SIZE}`)
    const got = await early.done
    expect('body' in got && got.body.equals(bytesOf(1000, 1000))).toBe(true)
    rest.open()
    const late = await client(proxy, '/seek.mp4', { range: `bytes=${SIZE - 100}-` })
    const tail = await late.done
    expect('body' in tail && tail.body.equals(bytesOf(SIZE - 100, 100))).toBe(true)
    await whole.done
    expect(origin.count).toBe(1)
    expect(origin.requests[0]?.headers.range).toBeUndefined()
  })

  it('an origin that dies mid-body fails every client of that fetch and stores nothing', async () => {
    const rest = gate()
    const origin = opened(await startOrigin(heldBody(rest, true)))
    const proxy = opened(await startProxy(origin.url))
    const clients = await Promise.all(Array.from({ length: 10 }, async () => await client(proxy, '/broken.mp4')))
    await Promise.all(clients.map(async c => await c.firstByte))
    rest.open()
    for (const c of clients) {
      const done = await c.done
      // A reset before the declared length, never a body that ends as if whole.
      expect('error' in done).toBe(true)
    }
    origin.setHandler(heldBody({ open () {}, opened: Promise.resolve() }))
    const again = await client(proxy, '/broken.mp4')
    expect(again.headers['x-cache']).toBe('MISS')
    const body = await again.done
    expect('body' in body && body.body.length).toBe(SIZE)
    expect(origin.count).toBe(2)
  })
})
