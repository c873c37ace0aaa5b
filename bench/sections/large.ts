/**
 * Section 9: objects of 1, 5 and 50 MB (issue 22). For each: 100 concurrent clients over two corral processes sharing
 * memcached (origin requests, want 1; the slowest client's first byte against the origin's), then hit throughput in
 * MB/s against a bare node:http server sending the same bytes from memory; the bytes memcached received for the fill
 * (its own `stats`), and a full GET on a third proxy whose L1 is empty (first byte and whole, from memcached chunks);
 * and corral's RSS while 50 clients download the 50 MB object. Bounded: about a minute on two cores.
 */
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { freePort, ROOT, startCorral, startNode, waitForHttp, type Corral } from '../lib.js'
import { statusKb } from '../proc.js'
import { startLargeOrigin, THINK_MS, type LargeOrigin } from '../large-origin.js'
import { fmt, freshPath, log, mib, row, withMemcached, type Run } from '../section.js'
import { memcachedStats } from '../probes.js'
import type { Memcached } from '../lib.js'

const MB = 1024 * 1024
const CLIENTS = 100
const THROUGHPUT_MS = 3000
const THROUGHPUT_CONCURRENCY = 8

interface Download { ttfbMs: number, bytes: number, ok: boolean }

async function download (agent: Agent, url: string): Promise<Download> {
  const t0 = performance.now()
  try {
    const res = await request(url, { dispatcher: agent })
    let ttfbMs = NaN
    let bytes = 0
    for await (const chunk of res.body) {
      if (bytes === 0) ttfbMs = performance.now() - t0
      bytes += (chunk as Buffer).length
    }
    return { ttfbMs, bytes, ok: res.statusCode === 200 }
  } catch {
    return { ttfbMs: NaN, bytes: 0, ok: false }
  }
}

/** MB/s of back-to-back downloads of `url` at THROUGHPUT_CONCURRENCY for THROUGHPUT_MS. */
async function throughput (agent: Agent, url: string): Promise<number> {
  const until = performance.now() + THROUGHPUT_MS
  let bytes = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: THROUGHPUT_CONCURRENCY }, async () => {
    while (performance.now() < until) bytes += (await download(agent, url)).bytes
  }))
  return bytes / MB / ((performance.now() - t0) / 1000)
}

async function startLargeCeiling (bytes: number): Promise<{ url: string, stop: () => Promise<void> }> {
  const port = await freePort()
  const child = startNode(['--import', 'tsx', join(ROOT, 'bench/large-origin.ts')], { PORT: String(port), CEILING_BYTES: String(bytes) })
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(url)
  return { url, stop: child.stop }
}

export async function largeSection (r: Run): Promise<void> {
  const s = '9 large'
  const origin = await startLargeOrigin()
  const agent = new Agent({ connections: 2 * CLIENTS, pipelining: 0 })
  try {
    await withMemcached(r, s, async (mc) => {
      const config = {
        origin: { url: origin.url, timeoutMs: 10_000 },
        log: { access: false },
        cache: { maxObjectBytes: 64 * MB, memory: { maxBytes: 256 * MB }, memcached: { servers: [mc.server] }, key: { includeHost: false } }
      }
      const a = await startCorral(config)
      let b: Corral | null = null
      try {
        b = await startCorral(config)
        for (const size of [1 * MB, 5 * MB, 50 * MB]) await oneSize(r, s, origin, agent, a, b, size, mc, config)
        await rssUnderLoad(r, s, agent, a)
      } finally {
        await b?.stop()
        await a.stop()
      }
    })
  } finally {
    await agent.close()
    await origin.close()
  }
}

async function oneSize (
  r: Run, s: string, origin: LargeOrigin, agent: Agent, a: Corral, b: Corral, size: number, mc: Memcached, config: Record<string, unknown>
): Promise<void> {
  const label = `${size / MB} MB`
  const path = `${freshPath(`/obj/${size}`)}`
  origin.reset()
  const written = (await memcachedStats(mc.port))['bytes_read'] ?? NaN
  const all = await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => await download(agent, `${(i % 2 === 0 ? a : b).url}${path}`)))
  const originRequests = origin.requests()
  const failed = all.filter(d => !d.ok || d.bytes !== size).length
  const slowest = Math.max(...all.map(d => d.ttfbMs))
  const median = medianOf(all.map(d => d.ttfbMs))
  // Even-numbered clients went to a, odd to b: the proxy that won the lease streams from the origin; the other follows
  // its fill through memcached as it arrives (coalesce/fleet-follow.ts).
  const onA = all.filter((_, i) => i % 2 === 0).map(d => d.ttfbMs)
  const onB = all.filter((_, i) => i % 2 === 1).map(d => d.ttfbMs)
  const perProxy = `a ${fmt(medianOf(onA))} / ${fmt(Math.max(...onA))} ms, b ${fmt(medianOf(onB))} / ${fmt(Math.max(...onB))} ms`
  log(`  ${label}: ${CLIENTS} clients over 2 proxies  origin requests ${originRequests}  failed ${failed}  first byte median ${fmt(median)} ms, slowest ${fmt(slowest)} ms (origin's ${THINK_MS} ms); median / slowest per proxy: ${perProxy}`)
  // What the fleet did, to tell a second origin request's cause (a lease takeover, memcached timing out under load).
  log(`    leases and memcached: ${await fleetCounters(a)} | ${await fleetCounters(b)}`)
  row(r, s, `${label}: origin requests (${CLIENTS} clients, 2 proxies)`, String(originRequests), '1', originRequests === 1 ? 'ok' : 'MISS')
  row(r, s, `${label}: failed downloads`, String(failed), '0', failed === 0 ? 'ok' : 'MISS')
  row(r, s, `${label}: first byte median / slowest`, `${fmt(median)} / ${fmt(slowest)} ms`, `report (origin ${THINK_MS} ms)`, 'info')
  row(r, s, `${label}: first byte per proxy (median / slowest)`, perProxy, 'report', 'info')
  if (originRequests !== 1) r.gateFailures.push(`${s}: ${label} reached the origin ${originRequests} times (want 1)`)
  const writtenMB = await writtenSince(mc, written) / MB
  log(`  ${label}: memcached received ${fmt(writtenMB)} MB for the fill (${fmt(writtenMB / (size / MB), 2)}x the object)`)
  row(r, s, `${label}: memcached bytes received for the fill`, `${fmt(writtenMB)} MB (${fmt(writtenMB / (size / MB), 2)}x)`, 'about 1x (written once)', 'info')
  const fresh = await fromChunks(agent, config, path)
  log(`  ${label}: full GET on a third proxy, L1 empty (from memcached chunks): first byte ${fmt(fresh.ttfbMs)} ms, whole ${fmt(fresh.wholeMs)} ms`)
  row(r, s, `${label}: full GET from chunks, fresh proxy (first byte / whole)`, `${fmt(fresh.ttfbMs)} / ${fmt(fresh.wholeMs)} ms`, 'report', fresh.ok ? 'info' : 'MISS')

  const ceiling = await startLargeCeiling(size)
  try {
    const hit = await throughput(agent, `${a.url}${path}`)
    const bare = await throughput(agent, ceiling.url)
    log(`  ${label}: hit ${fmt(hit)} MB/s, bare node:http ${fmt(bare)} MB/s (ratio ${fmt(hit / bare, 2)})`)
    row(r, s, `${label}: hit MB/s vs bare node:http`, `${fmt(hit)} / ${fmt(bare)} (${fmt(hit / bare, 2)})`, 'report', 'info')
    r.details[`${s}.${label}`] = { originRequests, failed, ttfbMedianMs: median, ttfbSlowestMs: slowest, ttfbPerProxy: perProxy, hitMBps: hit, bareMBps: bare }
  } finally {
    await ceiling.stop()
  }
}

/** Bytes memcached received since `before` (its `bytes_read`), once the fill's writes (the head last) have settled. */
async function writtenSince (mc: Memcached, before: number): Promise<number> {
  let last = NaN
  for (let i = 0; i < 50; i++) {
    const now = (await memcachedStats(mc.port))['bytes_read'] ?? NaN
    if (now === last) break
    last = now
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return last - before
}

/** One full GET of `path` on a new proxy sharing memcached (its L1 empty): time to first byte and to the last. */
async function fromChunks (agent: Agent, config: Record<string, unknown>, path: string): Promise<{ ttfbMs: number, wholeMs: number, ok: boolean }> {
  const c = await startCorral(config)
  try {
    const t0 = performance.now()
    const got = await download(agent, `${c.url}${path}`)
    return { ttfbMs: got.ttfbMs, wholeMs: performance.now() - t0, ok: got.ok }
  } finally {
    await c.stop()
  }
}

function medianOf (values: number[]): number {
  return values.slice().sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? NaN
}

async function fleetCounters (c: Corral): Promise<string> {
  const text = await (await fetch(`${c.adminUrl}/metrics`)).text()
  return text.split('\n').filter(l => /^corral_(leases_total|memcached_errors_total|chunked_entries_total|chunk_misses_total|fleet_streams_total)/.test(l)).map(l => l.replace(/^corral_/, '')).join(' ')
}

/** corral's resident memory while 50 clients download the (stored) 50 MB object at once. */
async function rssUnderLoad (r: Run, s: string, agent: Agent, a: Corral): Promise<void> {
  const path = freshPath(`/obj/${50 * MB}`)
  await download(agent, `${a.url}${path}`)
  const before = statusKb(a.pid)
  let peak = before
  const timer = setInterval(() => { peak = Math.max(peak, statusKb(a.pid)) }, 20)
  try {
    await Promise.all(Array.from({ length: 50 }, async () => await download(agent, `${a.url}${path}`)))
  } finally {
    clearInterval(timer)
  }
  log(`  RSS with 50 clients on the 50 MB object: before ${mib(before)}, peak ${mib(peak)} (50 copies would be ${mib(50 * 50 * 1024)})`)
  row(r, s, 'RSS, 50 clients x 50 MB object (peak)', `${mib(before)} -> ${mib(peak)}`, 'well under 50 copies', peak - before < 10 * 50 * 1024 ? 'ok' : 'MISS')
  r.details[`${s}.rss`] = { beforeKb: before, peakKb: peak }
}
