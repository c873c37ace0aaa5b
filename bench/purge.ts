/**
 * `npm run bench:purge` (issue 15): two corral processes sharing one memcached, an origin that takes 300 ms and tags
 * its pages with Surrogate-Key.
 *   1. hit latency: 100 concurrent requests for a cached page (the yardstick);
 *   2. fleet reach: a hard tag purge sent to proxy A, timed until proxy B stops answering HIT (L1 lives 60 s there,
 *      so only the purge record can make it forget), 5 times;
 *   3. soft-purge burst: a soft tag purge, then 100 concurrent requests split over A and B: every answer should be
 *      STALE at hit latency and the origin should see exactly one refresh.
 *   0. the local check a memcached read pays (BanList.screen), ns per entry, with 10,000 live records.
 * Bounded: ~10 s, a few hundred requests, loopback only. Prints one JSON line per section.
 */
import { createServer } from 'node:http'
import { sleep, startCorral, startMemcached, stopAll } from './lib.js'
import { burst } from './burst.js'
import { metricSum } from './probes.js'
import { BanList } from '../src/purge/bans.js'
import type { StoredEntry } from '../src/core/entry.js'

const ORIGIN_DELAY_MS = 300

/** ns per BanList.screen call for an entry with 3 tags, against 10,000 tag/url records and 20 prefix records. */
function screenCost (): Record<string, number> {
  const bans = new BanList(30_000)
  const t = Date.now()
  for (let i = 0; i < 10_000; i++) bans.add({ kind: i % 2 === 0 ? 'tag' : 'url', value: i % 2 === 0 ? `tag-${i}` : `h.test/p${i}`, host: '', at: t + i, soft: false })
  for (let i = 0; i < 20; i++) bans.add({ kind: 'prefix', value: `h.test/section-${i}/`, host: '', at: t + i, soft: true })
  const entry = (requestedAt: number): StoredEntry => ({
    kind: 'entry',
    key: 'h.test/article/123',
    status: 200,
    headers: [],
    body: Buffer.alloc(0),
    storedAt: requestedAt,
    initialAgeSeconds: 0,
    freshUntil: requestedAt + 60_000,
    staleWhileRevalidateUntil: requestedAt + 70_000,
    staleIfErrorUntil: requestedAt,
    mustRevalidate: false,
    etag: undefined,
    lastModified: undefined,
    requestedAt,
    tags: ['article-123', 'front', 'world']
  })
  const time = (e: StoredEntry): number => {
    const n = 1_000_000
    let kept = 0
    for (let i = 0; i < 100_000; i++) if (bans.screen(e) !== undefined) kept++
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) if (bans.screen(e) !== undefined) kept++
    return kept < 0 ? 0 : Math.round(Number(process.hrtime.bigint() - start) / n * 10) / 10
  }
  return { requestedAfterEveryRecordNs: time(entry(t + 20_000)), requestedBeforeRecordsNs: time(entry(t - 1)) }
}

async function main (): Promise<void> {
  console.log(JSON.stringify({ section: 'local check per memcached read (BanList.screen), 10,000 records', ...screenCost() }))
  const memcached = await startMemcached()
  if (memcached === null) throw new Error('bench:purge needs memcached on PATH')
  let originRequests = 0
  const origin = createServer((req, res) => {
    originRequests++
    const path = (req.url ?? '/').split('?')[0] as string
    const tag = path === '/front' ? 'front article-1' : `page-${path.slice(1)}`
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'max-age=3600', 'surrogate-key': tag, 'content-type': 'text/html' })
      res.end(Buffer.alloc(1024, `page ${path} `))
    }, ORIGIN_DELAY_MS)
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  const address = origin.address()
  const originUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const config = {
    origin: { url: originUrl, timeoutMs: 5000 },
    log: { level: 'warn', access: false },
    // The two proxies listen on different ports, so the Host of each request differs: keys leave it out to be shared.
    cache: { key: { includeHost: false }, memory: { maxTtlSeconds: 60 }, memcached: { servers: [memcached.server], timeoutMs: 200 }, purge: { pollIntervalMs: 250 } }
  }
  try {
    const a = await startCorral(config)
    const b = await startCorral(config)
    const fetchPage = async (base: string, path: string): Promise<string> => {
      const res = await fetch(`${base}${path}`)
      await res.arrayBuffer()
      return res.headers.get('x-cache') ?? ''
    }

    // 1. Hit latency.
    await fetchPage(a.url, '/front')
    await fetchPage(b.url, '/front')
    const hits = await burst([{ url: a.url, count: 50 }, { url: b.url, count: 50 }], '/front')
    console.log(JSON.stringify({ section: 'hit burst', ...hits }))

    // 2. Fleet reach of a hard tag purge sent to A, seen from B.
    const reachMs: number[] = []
    for (let i = 0; i < 5; i++) {
      const path = `/p${i}`
      await fetchPage(a.url, path)
      await fetchPage(b.url, path)
      const start = performance.now()
      const res = await fetch(`${a.adminUrl}/purge?tag=page-p${i}`, { method: 'POST' })
      await res.arrayBuffer()
      for (;;) {
        if (await fetchPage(b.url, path) !== 'HIT') break
        if (performance.now() - start > 5000) throw new Error('purge never reached proxy B')
        await sleep(5)
      }
      reachMs.push(Math.round(performance.now() - start))
    }
    console.log(JSON.stringify({ section: 'fleet reach of a tag purge (A → B), ms', reachMs, maxMs: Math.max(...reachMs) }))

    // 3. Soft purge, then a burst of 100 split over both proxies.
    const before = originRequests
    const purged = await fetch(`${a.adminUrl}/purge?tag=front&soft=1`, { method: 'POST' })
    const report = await purged.json() as Record<string, unknown>
    // Past B's next poll (250 ms) with room: the burst must find the record on both proxies.
    await sleep(600)
    const soft = await burst([{ url: a.url, count: 50 }, { url: b.url, count: 50 }], '/front')
    // The refresh takes 300 ms at the origin; then both proxies must serve the new copy.
    await sleep(ORIGIN_DELAY_MS + 400)
    const after = [await fetchPage(a.url, '/front'), await fetchPage(b.url, '/front')]
    console.log(JSON.stringify({
      section: 'soft purge then 100 concurrent requests',
      purge: report,
      ...soft,
      originRequests: originRequests - before,
      refreshes: await metricSum(a.adminUrl, 'corral_origin_requests_total', 'reason="refresh"') + await metricSum(b.adminUrl, 'corral_origin_requests_total', 'reason="refresh"'),
      afterRefresh: after,
      leases: Object.fromEntries(await Promise.all(['acquired', 'held', 'filled', 'takeover', 'unavailable', 'timeout'].map(async (r) =>
        [r, await metricSum(a.adminUrl, 'corral_leases_total', `result="${r}"`) + await metricSum(b.adminUrl, 'corral_leases_total', `result="${r}"`)])))
    }))
  } finally {
    await stopAll()
    origin.close()
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err)
  stopAll().finally(() => process.exit(1)).catch(() => {})
})
