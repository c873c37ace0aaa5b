/**
 * Issue 22, item 5: a Range request that misses starts the one fill (a whole fetch, to store) and is answered as soon
 * as its bytes have arrived, not when the whole object has: the origin holds the rest of the body on a gate the test
 * opens only after the range's answer is complete.
 */
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startOrigin, type OriginHandler } from '../helpers/origin.js'
import { startProxy, manyConnections } from '../helpers/proxy.js'
import { closeAfterEach } from '../helpers/opened.js'
import { bytesOf } from '../helpers/byte-origin.js'

const { opened } = closeAfterEach()
const SIZE = 1024 * 1024
const FIRST = 128 * 1024

/** FIRST bytes at once, the rest once `rest` resolves. */
function heldBody (rest: Promise<void>): OriginHandler {
  const whole = bytesOf(0, SIZE)
  return async (_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'video/webm', 'content-length': String(SIZE) })
    res.write(whole.subarray(0, FIRST))
    await rest
    res.end(whole.subarray(FIRST))
  }
}

describe('issue 22: a Range miss', () => {
  it('leads the one whole fill and is answered from the bytes that arrived, before the rest of the object', async () => {
    let open = (): void => {}
    const rest = new Promise<void>((resolve) => { open = resolve })
    const origin = opened(await startOrigin(heldBody(rest)))
    const proxy = opened(await startProxy(origin.url))
    const res = await request(`${proxy.url}/first-seek.webm`, { headers: { range: 'bytes=5000-69999' }, dispatcher: manyConnections })
    expect(res.statusCode).toBe(206)
    expect(res.headers['content-range']).toBe(`bytes 5000-69999/${SIZE}`)
    expect(res.headers['x-cache']).toBe('MISS')
    // Complete while the origin still holds all but the first 128 KiB.
    const body = Buffer.from(await res.body.arrayBuffer())
    expect(body.equals(bytesOf(5000, 65000))).toBe(true)
    expect(origin.requests[0]?.headers.range).toBeUndefined()
    // A range past the bytes that arrived waits for them, from the same fill.
    const later = request(`${proxy.url}/first-seek.webm`, { headers: { range: `bytes=${SIZE - 1000}-` }, dispatcher: manyConnections })
    open()
    const tail = await later
    expect(tail.statusCode).toBe(206)
    expect(Buffer.from(await tail.body.arrayBuffer()).equals(bytesOf(SIZE - 1000, 1000))).toBe(true)
    expect(origin.count).toBe(1)
  })
})
