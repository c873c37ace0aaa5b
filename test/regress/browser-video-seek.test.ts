/**
 * Issue 22, item 5, in a real browser: headless Chromium plays a WebM clip through corral and seeks in it. The clip is
 * cacheable and larger than cache.memcached.maxItemBytes, so corral keeps it as chunks in memcached, with L1 off: the
 * browser's Range requests are answered from the chunks they need (store/chunk-ranges.ts). The test origin serves the
 * page and the clip (answering Range itself, as a file server does) and takes the page's report on a beacon URL; the
 * test awaits that request, then ends the browser. DevTools throttles the page's downloads, as a real network would,
 * so the seeks run ahead of what has arrived and the browser asks for ranges.
 *
 * The fixture (test/fixtures/seek-320x240-10s.webm, 1.2 MB, VP8, a keyframe a second, cues) was made once with
 *   ffmpeg -f lavfi -i testsrc=size=320x240:rate=25:duration=10 -vf noise=alls=12:allf=t -c:v libvpx -b:v 1M
 *     -minrate 1M -maxrate 1M -g 25 -threads 1 -deadline realtime -cpu-used 8 -an seek-320x240-10s.webm
 * so CI needs no ffmpeg.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, inject, it } from 'vitest'
import { startOrigin, type OriginHandler } from '../helpers/origin.js'
import { startProxy } from '../helpers/proxy.js'
import { metricSum } from '../helpers/proxy-process.js'
import { closeAfterEach } from '../helpers/opened.js'
import { findChromium, launchChromium } from '../helpers/devtools.js'

const memcached = inject('memcached')
const { opened } = closeAfterEach()
const CLIP = readFileSync(new URL('../fixtures/seek-320x240-10s.webm', import.meta.url))
const SEEKS = [6.5, 1.5, 9.2, 3.7]
const BEACON_DEADLINE_MS = 45_000

const chromium = findChromium()
/** The page's download speed (DevTools throttling): the clip takes about 12 s, so a seek ahead of what arrived asks for a range (unthrottled on loopback, Chromium has the whole clip from its first request before the first seek). */
const DOWNLOAD_BYTES_PER_SECOND = 100_000

/** The page: play the clip, seek to each position once the last seek landed, then report to the beacon URL. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>seek</title>
<video id="v" muted playsinline preload="metadata" src="/clip.webm"></video>
<script>
const v = document.getElementById('v')
const report = { errors: [], seeks: [], played: 0, buffered: [], duration: 0 }
v.addEventListener('error', () => report.errors.push('media error ' + (v.error && v.error.code)))
const once = (name) => new Promise((resolve) => v.addEventListener(name, resolve, { once: true }))
async function run () {
  await v.play()
  while (v.currentTime < 0.5) await once('timeupdate')
  report.played = v.currentTime
  for (const target of ${JSON.stringify(SEEKS)}) {
    const seeked = once('seeked')
    v.currentTime = target
    await seeked
    report.seeks.push({ target, landed: v.currentTime })
  }
}
run().catch((err) => report.errors.push(String(err))).finally(() => {
  report.duration = v.duration
  for (let i = 0; i < v.buffered.length; i++) report.buffered.push([v.buffered.start(i), v.buffered.end(i)])
  fetch('/beacon', { method: 'POST', body: JSON.stringify(report) })
})
</script>`

interface Report {
  errors: string[]
  seeks: Array<{ target: number, landed: number }>
  played: number
  buffered: Array<[number, number]>
  duration: number
}

interface ClipRequest { range: string | undefined, status: number, bytes: number }

/** A file server for the page and the clip; the clip's requests and bytes are kept for the assertions. */
function fileOrigin (clipRequests: ClipRequest[], onReport: (report: Report) => void): { handler: OriginHandler, bodies: Map<number, string> } {
  const bodies = new Map<number, string>()
  const handler: OriginHandler = (req, res, n) => {
    if (req.url === '/player.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(PAGE)
      return
    }
    if (req.url === '/beacon') {
      res.writeHead(204, { 'cache-control': 'no-store' })
      res.end()
      onReport(JSON.parse(bodies.get(n) ?? '{}') as Report)
      return
    }
    if (req.url !== '/clip.webm') {
      res.writeHead(404, { 'cache-control': 'no-store' })
      res.end()
      return
    }
    const headers = { 'content-type': 'video/webm', 'accept-ranges': 'bytes', 'cache-control': 'public, max-age=3600', etag: '"clip-v1"' }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    if (m === null) {
      res.writeHead(200, { ...headers, 'content-length': String(CLIP.length) })
      res.end(CLIP)
      clipRequests.push({ range: undefined, status: 200, bytes: CLIP.length })
      return
    }
    const start = Number(m[1])
    const end = m[2] === '' ? CLIP.length - 1 : Math.min(Number(m[2]), CLIP.length - 1)
    res.writeHead(206, { ...headers, 'content-length': String(end - start + 1), 'content-range': `bytes ${start}-${end}/${CLIP.length}` })
    res.end(CLIP.subarray(start, end + 1))
    clipRequests.push({ range: req.headers.range, status: 206, bytes: end - start + 1 })
  }
  return { handler, bodies }
}

describe.skipIf(memcached === null)('issue 22: a real browser seeking in a video through corral', () => {
  // CI installs Debian's chromium (.ci/run) and this must run there; a developer machine without it skips.
  it.skipIf(chromium === null && process.env.CI === undefined)('plays and seeks; the clip comes from the origin once and each seek from memcached chunks', async () => {
    if (chromium === null) throw new Error('chromium is not installed: .ci/run installs it (apt-get install chromium)')
    const clipRequests: ClipRequest[] = []
    let reported = (_report: Report): void => {}
    const report = new Promise<Report>((resolve) => { reported = resolve })
    const { handler, bodies } = fileOrigin(clipRequests, (r) => { reported(r) })
    const origin = opened(await startOrigin((req, res, n) => {
      // The origin helper has read the request body by now (it answers after 'end').
      bodies.set(n, origin.requests[n - 1]?.body ?? '')
      return handler(req, res, n)
    }))
    // 128 KiB items: the 1.2 MB clip is ten chunks; L1 off, so every Range the browser sends reads memcached.
    const proxy = opened(await startProxy(origin.url, {
      cache: {
        memory: { maxTtlSeconds: 0 },
        memcached: { servers: [memcached as string], prefix: `vs${randomBytes(3).toString('hex')}:`, timeoutMs: 1000, retryDownMs: 60_000, maxItemBytes: 128 * 1024 }
      }
    }))
    const browser = await launchChromium(chromium, ['--autoplay-policy=no-user-gesture-required', '--mute-audio'])
    let result: Report
    try {
      await browser.send('Network.enable')
      await browser.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: DOWNLOAD_BYTES_PER_SECOND, uploadThroughput: -1 })
      await browser.send('Page.navigate', { url: `${proxy.url}/player.html` })
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no report from the page within ${BEACON_DEADLINE_MS} ms`)), BEACON_DEADLINE_MS)
      })
      result = await Promise.race([report, deadline]).finally(() => clearTimeout(timer))
    } finally {
      await browser.close()
    }

    // The video played and every seek landed where it was asked (a keyframe a second: within one second).
    expect(result.errors).toEqual([])
    expect(result.played).toBeGreaterThanOrEqual(0.5)
    expect(result.duration).toBeCloseTo(10, 0)
    expect(result.seeks.map(s => s.target)).toEqual(SEEKS)
    for (const s of result.seeks) expect(Math.abs(s.landed - s.target), JSON.stringify(s)).toBeLessThan(1)

    // corral answered every request for the clip as a Range answer: 206, or 304 when the browser revalidated a range it
    // already held (If-None-Match goes before Range, RFC 9110 §13.2.2). The first led the one fill; the seeks after
    // it came from memcached chunks, and at least one read only the chunks its range needed.
    const clipLines = proxy.logs.filter(l => l['msg'] === 'access' && l['url'] === '/clip.webm')
    expect(clipLines.length).toBeGreaterThanOrEqual(3)
    for (const line of clipLines) expect([206, 304], JSON.stringify(line)).toContain(line['status'])
    expect(clipLines.filter(l => l['status'] === 206).length).toBeGreaterThanOrEqual(2)
    for (const line of clipLines.slice(1)) expect([line['cache'], line['body']], JSON.stringify(line)).toEqual(['HIT', 'chunks'])
    const text = await (await fetch(`${proxy.adminUrl}/metrics`)).text()
    expect(metricSum(text, 'corral_chunked_entries_total', 'op="range"')).toBeGreaterThanOrEqual(1)
    expect(metricSum(text, 'corral_chunk_misses_total')).toBe(0)

    // The origin was asked for the clip once, for the whole of it: one file's bytes, not one per seek.
    expect(clipRequests).toEqual([{ range: undefined, status: 200, bytes: CLIP.length }])
    expect(metricSum(text, 'corral_chunked_entries_total', 'op="stored"')).toBe(1)
  }, 70_000)
})
