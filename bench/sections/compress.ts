/**
 * Section 8: compression at fill time (issue 24) for a 100 KiB HTML page: the bytes each coding puts on the wire, the
 * first wave on a dripped 512 KiB page (compress-wave.ts), hit
 * throughput for a br, a gzip and an identity client against a bare node:http server sending the same bytes from
 * memory, what memcached holds per page with and without compression, and the CPU a fill costs for it.
 */
import { createServer } from 'node:http'
import { request } from 'undici'
import { startCorral, startHttpScript, startMemcached } from '../lib.js'
import { listenLoopback } from '../origin.js'
import { makePage } from '../page.js'
import { memcachedStats, metricSum } from '../probes.js'
import { treeCpuSeconds } from '../proc.js'
import { fmt, log, pct, row, type Run } from '../section.js'
import { corralContender, cpuRatioRow, gateClientErrors, interleave, ratioRow, summarize, type Contender, type Measured } from '../throughput.js'
import { DRIP_PAGE, measureWave, startDripOrigin } from './compress-wave.js'

const PAGE = makePage(100 * 1024)
/** Distinct pages filled to measure a fill's CPU: enough to average over, few enough to stay short. */
const FILLS = 60

export async function compressSection (r: Run): Promise<void> {
  const s = '8 compress'
  const origin = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'public, max-age=3600', etag: '"page"' })
    res.end(PAGE)
  })
  const listening = await listenLoopback(origin)
  const originUrl = `http://127.0.0.1:${listening.port}`
  try {
    await wireBytes(r, s, originUrl)
    await firstWave(r, s)
    await fillCost(r, s, originUrl)
    await memcachedBytes(r, s, originUrl)
    if (!r.smoke) await hitThroughput(r, s, originUrl)
  } finally {
    await listening.close()
  }
}

async function fetchBytes (url: string, ae: string | null): Promise<{ bytes: number, coding: string }> {
  const res = await request(url, { headers: ae === null ? {} : { 'accept-encoding': ae } })
  const body = Buffer.from(await res.body.arrayBuffer())
  return { bytes: body.length, coding: String(res.headers['content-encoding'] ?? 'identity') }
}

/**
 * Requests `url` until an answer comes from the stored entry (Cache-Status `hit; ttl=`), at most 100 times: a page of
 * 64 KiB or more streams while filling and is stored once whole and coded, so the first answer precedes the write.
 */
async function untilStored (url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = await request(url)
    await res.body.dump()
    if (/; hit; ttl=/.test(String(res.headers['cache-status']))) return
  }
  throw new Error(`${url} was not stored`)
}

async function wireBytes (r: Run, s: string, originUrl: string): Promise<void> {
  const corral = await startCorral({ origin: { url: originUrl }, log: { access: false } })
  try {
    await untilStored(`${corral.url}/page`)
    const out: Record<string, number> = {}
    for (const [name, ae] of [['br', 'gzip, deflate, br'], ['gzip', 'gzip'], ['identity', null]] as const) {
      const got = await fetchBytes(`${corral.url}/page`, ae)
      out[name] = got.bytes
      const target = name === 'br' ? 0.18 : name === 'gzip' ? 0.25 : 1
      row(r, s, `wire bytes, ${name} client`, `${got.bytes} B (${fmt(got.bytes / PAGE.length, 3)} of identity, sent ${got.coding})`,
        name === 'identity' ? 'report' : `<= ${target}`, name === 'identity' ? 'info' : got.bytes / PAGE.length <= target && got.coding === name ? 'ok' : 'MISS')
    }
    r.details[`${s}.wire`] = out
  } finally {
    await corral.stop()
  }
}

/**
 * A cold wave on a compressible page the origin drips: each client's first byte against the origin's own, and the
 * wave's wire bytes against four identity copies. The page streams while filling, coded on the fly per client.
 */
async function firstWave (r: Run, s: string): Promise<void> {
  const drip = await startDripOrigin()
  const corral = await startCorral({ origin: { url: drip.url }, log: { access: false } })
  try {
    // One wave first, on another key: the process's first requests pay for connections and compiling, not streaming.
    await measureWave(corral.url, drip.url, '/warm')
    const { origin, wave } = await measureWave(corral.url, drip.url, '/drip')
    r.details[`${s}.firstWave`] = { origin, wave }
    const slowest = Math.max(...wave.map((w) => w.firstMs))
    const codings = wave.map((w) => w.coding).join(', ')
    row(r, s, 'first wave, 512 KiB page dripped over 500 ms: slowest first byte / origin\'s', `${fmt(slowest, 1)} / ${fmt(origin.firstMs, 1)} ms (${codings})`,
      'origin\'s + 100 ms', slowest <= origin.firstMs + 100 ? 'ok' : 'MISS')
    const total = wave.reduce((sum, w) => sum + w.bytes, 0)
    row(r, s, 'first wave wire bytes (4 clients)', `${total} B (${fmt(total / (4 * DRIP_PAGE.length), 3)} of 4 identity copies)`, 'report', 'info')
  } finally {
    await corral.stop()
    await drip.close()
  }
}

/** The CPU corral spends per fill with compression on and off: the difference is what compression costs a fill. */
async function fillCost (r: Run, s: string, originUrl: string): Promise<void> {
  const perFill: Record<string, number> = {}
  for (const enabled of [true, false]) {
    const corral = await startCorral({ origin: { url: originUrl }, log: { access: false }, cache: { compress: { enabled } } })
    try {
      await fetchBytes(`${corral.url}/warm`, null)
      const cpu0 = treeCpuSeconds(corral.pid)
      for (let i = 0; i < FILLS; i++) await fetchBytes(`${corral.url}/fill/${i}`, 'br')
      perFill[enabled ? 'on' : 'off'] = (treeCpuSeconds(corral.pid) - cpu0) / FILLS * 1000
      if (enabled) {
        const seconds = await metricSum(corral.adminUrl, 'corral_compress_seconds_total')
        row(r, s, 'compression time per fill (br + gzip, thread pool)', `${fmt(seconds / (FILLS + 1) * 1000, 2)} ms`, 'report', 'info')
      }
    } finally {
      await corral.stop()
    }
  }
  r.details[`${s}.fillCpuMs`] = perFill
  row(r, s, 'CPU per fill, compress on / off', `${fmt(perFill['on'] ?? NaN, 2)} / ${fmt(perFill['off'] ?? NaN, 2)} ms`, 'report', 'info')
}

async function memcachedBytes (r: Run, s: string, originUrl: string): Promise<void> {
  const memcached = await startMemcached()
  if (memcached === null) {
    row(r, s, 'memcached bytes per page', 'skipped: memcached not installed', 'well under identity', 'skipped')
    return
  }
  try {
    const held: Record<string, number> = {}
    for (const enabled of [true, false]) {
      const corral = await startCorral({
        origin: { url: originUrl },
        log: { access: false },
        cache: { compress: { enabled }, memcached: { servers: [memcached.server], prefix: enabled ? 'on:' : 'off:' } }
      })
      try {
        const before = (await memcachedStats(memcached.port))['bytes'] ?? 0
        await untilStored(`${corral.url}/mc`)
        held[enabled ? 'on' : 'off'] = ((await memcachedStats(memcached.port))['bytes'] ?? 0) - before
      } finally {
        await corral.stop()
      }
    }
    r.details[`${s}.memcachedBytes`] = held
    const on = held['on'] ?? NaN
    const off = held['off'] ?? NaN
    row(r, s, 'memcached bytes per page, compress on / off', `${on} / ${off} B (${pct(on / off)})`, '< 0.5', on / off < 0.5 ? 'ok' : 'MISS')
  } finally {
    await memcached.stop()
  }
}

function ceilingContender (): Contender {
  return {
    name: 'ceiling (same bytes)',
    start: async () => await startHttpScript('bench/compress-ceiling.ts')
  }
}

async function hitThroughput (r: Run, s: string, originUrl: string): Promise<void> {
  for (const [name, ae] of [['br', 'gzip, deflate, br'], ['gzip', 'gzip, deflate'], ['identity', '']] as const) {
    log(`  ${name} client`)
    const measured = await interleave(r, [ceilingContender(), corralContender('corral (access log off)', originUrl, {}, false)], '/page', ae === '' ? {} : { 'accept-encoding': ae })
    try {
      const [ceiling, corral] = measured as [Measured, Measured]
      r.details[`${s}.hit.${name}`] = { ceiling: summarize(ceiling), corral: summarize(corral) }
      row(r, s, `${name} hit: ceiling / corral req/s`, `${fmt(ceiling.medianRps)} / ${fmt(corral.medianRps)}`, '', 'info')
      ratioRow(r, s, `${name} hit: ratio corral / ceiling`, corral, ceiling, 0.85)
      cpuRatioRow(r, s, `${name} hit: ratio corral / ceiling`, corral, ceiling, 0.85)
      gateClientErrors(r, s, measured)
    } finally {
      await Promise.all(measured.map(async (m) => await m.child.stop()))
    }
  }
}
