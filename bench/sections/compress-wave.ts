/**
 * Section 8, first wave: a compressible page the origin drips (512 KiB in 16 pieces over about 500 ms), asked for by
 * four clients at once (br, gzip, identity, br) on a cold key. What each waits for its first byte against what a
 * client of the origin itself waits, and the bytes the wave puts on the wire (issue 22: "a client's time to first byte
 * is about the origin's, whatever the size"; before it streamed, a compressible page waited for its whole body and
 * its compression). Bounded: one wave, about a second.
 */
import { createServer } from 'node:http'
import { performance } from 'node:perf_hooks'
import { request } from 'undici'
import { listenLoopback } from '../origin.js'
import { makePage } from '../page.js'

export const DRIP_PAGE = makePage(512 * 1024, 7)
const PIECES = 16
const PIECE_GAP_MS = 31

/** The dripping origin: HTML with a Content-Length, one piece per PIECE_GAP_MS. */
export async function startDripOrigin (): Promise<{ url: string, close: () => Promise<void> }> {
  const piece = Math.ceil(DRIP_PAGE.length / PIECES)
  const origin = createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8', 'cache-control': 'public, max-age=3600', etag: '"drip"', 'content-length': String(DRIP_PAGE.length)
    })
    let i = 0
    const next = (): void => {
      if (res.destroyed) return
      res.write(DRIP_PAGE.subarray(i * piece, (i + 1) * piece))
      if (++i < PIECES) setTimeout(next, PIECE_GAP_MS)
      else res.end()
    }
    next()
  })
  const listening = await listenLoopback(origin)
  return { url: `http://127.0.0.1:${listening.port}`, close: listening.close }
}

export interface Timed { readonly ae: string, readonly coding: string, readonly firstMs: number, readonly doneMs: number, readonly bytes: number }

/** One GET timed from the request to its first body byte and to its end, counting the bytes on the wire (no decoding). */
export async function timedGet (url: string, ae: string): Promise<Timed> {
  const started = performance.now()
  const res = await request(url, { headers: ae === '' ? {} : { 'accept-encoding': ae } })
  let firstMs = NaN
  let bytes = 0
  for await (const chunk of res.body) {
    if (bytes === 0) firstMs = performance.now() - started
    bytes += (chunk as Buffer).length
  }
  return { ae, coding: String(res.headers['content-encoding'] ?? 'identity'), firstMs, doneMs: performance.now() - started, bytes }
}

/** The origin's own first byte, then a cold wave of four clients on `path` through the proxy at `proxyUrl`. */
export async function measureWave (proxyUrl: string, originUrl: string, path: string): Promise<{ origin: Timed, wave: Timed[] }> {
  const origin = await timedGet(`${originUrl}${path}`, '')
  const wave = await Promise.all(['gzip, deflate, br', 'gzip', '', 'br'].map(async (ae) => await timedGet(`${proxyUrl}${path}`, ae)))
  return { origin, wave }
}
