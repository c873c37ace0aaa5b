/** Section 7: 20 000 distinct 4 KB pages through a bounded L1: what the bound accounts for and what RSS shows. */
import { sleep, startCorral } from '../lib.js'
import { load } from '../loadgen/autocannon.js'
import { metricSum } from '../probes.js'
import { statusKb } from '../proc.js'
import { atMost, CONNECTIONS, fmt, freshPath, log, mib, row, type Run } from '../section.js'

interface MemoryRun {
  readonly maxBytes: number
  readonly rssBeforeKb: number
  readonly rssAfterKb: number
  readonly rssPeakKb: number
  readonly growthKb: number
  readonly requests: number
  readonly rps: number
  readonly misses: number
  readonly hitsOnReplay: number
  readonly clientErrors: number
  /** corral_memory_cache_bytes after the load: what L1 accounts for (bodies, headers, per-entry overhead). */
  readonly cacheBytes: number
  readonly cacheEntries: number
}

/** One corral, `keys` distinct 4 KB pages at 64 connections, RSS read before and after; then the newest keys again. */
async function memoryRun (r: Run, maxBytes: number, keys: number): Promise<MemoryRun> {
  const corral = await startCorral({ origin: { url: r.origin.url }, cache: { memory: { maxBytes } }, log: { access: false } })
  try {
    // A few thousand requests first, so the JIT, sockets and origin pool exist before the "before" reading.
    await load(corral.url + '/big/warm', CONNECTIONS, 1)
    await sleep(500)
    const rssBeforeKb = statusKb(corral.pid)
    const prefix = freshPath('/big')
    let i = 0
    const result = await load(corral.url, CONNECTIONS, 120, {
      amount: keys,
      requests: [{ setupRequest: (req) => ({ ...req, path: `${prefix}/${i++}` }) }]
    })
    await sleep(500)
    const rssAfterKb = statusKb(corral.pid)
    const rssPeakKb = statusKb(corral.pid, 'VmHWM')
    const misses = await metricSum(corral.adminUrl, 'corral_requests_total', 'cache="MISS"')
    const cacheBytes = await metricSum(corral.adminUrl, 'corral_memory_cache_bytes')
    const cacheEntries = await metricSum(corral.adminUrl, 'corral_memory_cache_entries')
    // Replay the newest 1000 keys: how many the L1 still holds says what the bound kept.
    const hits0 = await metricSum(corral.adminUrl, 'corral_requests_total', 'cache="HIT"')
    let j = keys - 1000
    await load(corral.url, 16, 60, { amount: 1000, requests: [{ setupRequest: (req) => ({ ...req, path: `${prefix}/${j++}` }) }] })
    const hitsOnReplay = (await metricSum(corral.adminUrl, 'corral_requests_total', 'cache="HIT"')) - hits0
    return {
      maxBytes,
      rssBeforeKb,
      rssAfterKb,
      rssPeakKb,
      growthKb: rssAfterKb - rssBeforeKb,
      requests: result.requests,
      rps: result.rps,
      misses,
      hitsOnReplay,
      clientErrors: result.non2xx + result.errors,
      cacheBytes,
      cacheEntries
    }
  } finally {
    await corral.stop()
  }
}

/**
 * RSS alone mixes the cache with heap the process keeps after serving 20 000 misses, so the 8 MiB run is flanked by
 * two controls with the same load: a 1 KiB cache (holds nothing: the process's own growth) and a 256 MiB cache
 * (holds everything: what an unbounded L1 costs). Retained by L1 ≈ growth(8 MiB) − growth(1 KiB).
 */
export async function memorySection (r: Run): Promise<void> {
  const s = '7 memory'
  const maxBytes = 8 * 1024 * 1024
  const keys = 20_000
  r.origin.setDelay(0)
  const runs: MemoryRun[] = []
  for (const bytes of [1024, maxBytes, 256 * 1024 * 1024]) {
    const m = await memoryRun(r, bytes, keys)
    runs.push(m)
    log(`  maxBytes ${mib(bytes / 1024).padStart(10)}: ${m.requests} requests at ${fmt(m.rps)} req/s, MISS ${m.misses}; RSS ${mib(m.rssBeforeKb)} -> ${mib(m.rssAfterKb)} (+${mib(m.growthKb)}, peak ${mib(m.rssPeakKb)}); replay of newest 1000: ${m.hitsOnReplay} hits`)
  }
  const [none, bounded, unbounded] = runs as [MemoryRun, MemoryRun, MemoryRun]
  const retainedKb = bounded.growthKb - none.growthKb
  r.details[s] = { keys, pageBytes: 4096, runs }
  row(r, s, 'L1 accounted bytes after 20 000 keys (8 MiB bound)', `${mib(bounded.cacheBytes / 1024)} in ${bounded.cacheEntries} entries`, '<= maxBytes', atMost(bounded.cacheBytes, maxBytes))
  row(r, s, 'RSS growth, 8 MiB L1', `+${mib(bounded.growthKb)} (${mib(bounded.rssBeforeKb)} -> ${mib(bounded.rssAfterKb)})`, 'report', 'info')
  row(r, s, 'RSS growth, controls 1 KiB / 256 MiB L1', `+${mib(none.growthKb)} / +${mib(unbounded.growthKb)}`, 'report', 'info')
  row(r, s, 'retained by 8 MiB L1 (vs 1 KiB control)', `${mib(retainedKb)} (${fmt(retainedKb * 1024 / maxBytes, 2)}x maxBytes)`,
    'report (RSS includes garbage not yet collected)', 'info')
  row(r, s, 'replay newest 1000 keys: hits 8 MiB / 256 MiB', `${bounded.hitsOnReplay} / ${unbounded.hitsOnReplay}`, 'report (~1000 both)', 'info')
  const errors = runs.reduce((a, x) => a + x.clientErrors, 0)
  row(r, s, 'non-2xx + errors', String(errors), '0', errors === 0 ? 'ok' : 'MISS')
}
