/**
 * Issue 13, item 4: a pipelining client that never reads. One socket writes 8 pipelined GETs for a cached 900 KB
 * page, then stops reading. The responses behind the first wait in node:http's queue with no socket of their own;
 * the cut-off after origin.timeoutMs without progress (README, "limits") must hold for them too.
 */
import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin } from '../helpers/origin.js'
import { startProxy, get } from '../helpers/proxy.js'

const { opened, sockets } = closeAfterEach()

// 8 × 900 KB is more than loopback takes from a client that never reads (tcp_wmem's 4 MiB ceiling plus the reader's
// untouched 128 KiB receive buffer here): the rest waits in node:http's queue, as in the issue.
const PAGE = Buffer.alloc(900 * 1024, 'b')
const PIPELINED = 8

describe('a pipelining client that never reads', () => {
  it('is cut off after origin.timeoutMs without progress, queued responses included', async () => {
    const o = opened(await startOrigin((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': String(PAGE.length) })
      res.end(PAGE)
    }))
    const p = opened(await startProxy(o.url, { origin: { timeoutMs: 500 } }))
    const first = await get(`${p.url}/big`, { host: 'site.test' })
    expect(first.headers['x-cache']).toBe('MISS')
    expect(first.body.length).toBe(PAGE.length)

    const { port } = new URL(p.url)
    let received = 0
    const socket = connect(Number(port), '127.0.0.1')
    sockets.push(socket)
    socket.on('error', () => {})
    socket.on('data', (d: Buffer) => { received += d.length })
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.pause()
    socket.write('GET /big HTTP/1.1\r\nHost: site.test\r\n\r\n'.repeat(PIPELINED))

    await expect.poll(() => p.logs.find((l) => l.code === 'CORRAL_ERR_CLIENT_STALLED'), { timeout: 10_000 })
      .toMatchObject({ level: 40, msg: 'client connection aborted' })
    socket.resume()
    await closed
    // The connection was closed with pages unsent: what was queued was dropped, not kept for a client that left.
    expect(received).toBeLessThan(PIPELINED * PAGE.length)
    expect(o.count).toBe(1)
  })
})
