/**
 * Section 2: a page with max-age=1 under 64 connections for 10 s while the origin takes 200 ms: one refresh per TTL,
 * no answer waiting for the origin; beside it, a hits-only page and the bare ceiling under the same load (autocannon:
 * latency, not throughput, is what this section reads).
 */
import { sleep, startCeiling, startCorral } from '../lib.js'
import { load } from '../loadgen/autocannon.js'
import { metricSum } from '../probes.js'
import { atMost, CONNECTIONS, fmt, freshPath, log, row, type Run } from '../section.js'

export async function expirySection (r: Run): Promise<void> {
  const s = '2 expiry'
  const durationS = 10
  r.origin.setDelay(200)
  const corral = await startCorral({ origin: { url: r.origin.url } })
  try {
    const path = freshPath('/expire')
    await (await fetch(corral.url + path)).arrayBuffer()
    // Reference: the same load on a page that never expires, so a max latency can be read against plain hits.
    await load(corral.url + '/page', CONNECTIONS, 2) // warm-up: JIT and first GCs, not counted
    const hit = await load(corral.url + '/page', CONNECTIONS, 3)
    // And the machine's own floor: a bare node:http server under the same load (its max is scheduling noise alone).
    const bare = await startCeiling()
    const bareLoad = await load(bare.url + '/page', CONNECTIONS, 3).finally(() => bare.stop())
    r.origin.reset()
    const before = await metricSum(corral.adminUrl, 'corral_origin_requests_total')
    const waited0 = await waitedForOrigin(corral.adminUrl)
    const result = await load(corral.url + path, CONNECTIONS, durationS)
    await sleep(300) // a refresh started in the last moments is counted by both sides
    const originRequests = r.origin.requests()
    const viaMetrics = (await metricSum(corral.adminUrl, 'corral_origin_requests_total')) - before
    const waited = (await waitedForOrigin(corral.adminUrl)) - waited0
    const stale = await metricSum(corral.adminUrl, 'corral_requests_total', 'cache="STALE"')
    const expected = durationS / 1
    log(`  bare node:http reference: ${fmt(bareLoad.rps)} req/s  p99 ${bareLoad.p99Ms} ms  max ${bareLoad.maxMs} ms`)
    log(`  hits-only reference: ${fmt(hit.rps)} req/s  p99 ${hit.p99Ms} ms  max ${hit.maxMs} ms`)
    log(`  expiring page: ${fmt(result.rps)} req/s  p99 ${result.p99Ms} ms  max ${result.maxMs} ms  origin requests ${originRequests} (corral metrics: ${viaMetrics})  STALE answers ${stale}  answers that waited for the origin ${waited}`)
    r.details[s] = { durationS, originRequests, originRequestsFromMetrics: viaMetrics, staleAnswers: stale, waitedForOrigin: waited, expiring: result, hitsOnlyReference: hit, bareReference: bareLoad }
    row(r, s, `origin requests in ${durationS} s`, String(originRequests), `~${expected} (duration/TTL)`,
      originRequests >= expected * 0.5 && originRequests <= expected * 1.3 + 1 ? 'ok' : 'MISS')
    row(r, s, 'max latency', `${result.maxMs} ms`, '<= 20 ms', atMost(result.maxMs, 20))
    row(r, s, 'p99 latency', `${result.p99Ms} ms`, 'report', 'info')
    row(r, s, 'answers that waited for the origin (MISS, REVALIDATED)', String(waited), '0 (every expiry served stale)', waited === 0 ? 'ok' : 'MISS')
    row(r, s, 'hits-only max / p99 (reference)', `${hit.maxMs} / ${hit.p99Ms} ms`, 'report', 'info')
    row(r, s, 'bare node:http max / p99 (reference)', `${bareLoad.maxMs} / ${bareLoad.p99Ms} ms`, 'report (the machine\'s floor)', 'info')
    row(r, s, 'non-2xx + errors', String(result.non2xx + result.errors), '0', result.non2xx + result.errors === 0 ? 'ok' : 'MISS')
  } finally {
    await corral.stop()
  }
}

/** Answers that waited for an origin fetch: every kind but HIT and STALE (SHED and PASS do not occur here). */
async function waitedForOrigin (adminUrl: string): Promise<number> {
  return await metricSum(adminUrl, 'corral_requests_total', 'cache="MISS"') +
    await metricSum(adminUrl, 'corral_requests_total', 'cache="REVALIDATED"')
}
