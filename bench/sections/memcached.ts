/** Section 5: section 1 with every hit served from memcached (L1 off) against the ceiling. */
import { memcachedStats, metricSum } from '../probes.js'
import { fmt, log, row, withMemcached, type Run } from '../section.js'
import { ceilingContender, corralContender, cpuRatioRow, generatorRow, interleave, ratioRow, summarize, type Measured } from '../throughput.js'

export async function memcachedHitSection (r: Run): Promise<void> {
  const s = '5 memcached hit'
  r.origin.setDelay(0)
  await withMemcached(r, s, async (mc) => {
    const config = { cache: { memcached: { servers: [mc.server] }, memory: { maxTtlSeconds: 0 } } }
    const stats0 = await memcachedStats(mc.port)
    const measured = await interleave(r, [ceilingContender(), corralContender('corral (memcached, no L1)', r.origin.url, config)], '/page')
    try {
      const [ceiling, corral] = measured as [Measured, Measured]
      const stats1 = await memcachedStats(mc.port)
      const served = await metricSum(corral.child.adminUrl ?? '', 'corral_requests_total')
      const l1Bytes = await metricSum(corral.child.adminUrl ?? '', 'corral_memory_cache_bytes')
      const getHits = (stats1.get_hits ?? 0) - (stats0.get_hits ?? 0)
      log(`  memcached get_hits ${getHits} for ${served} corral answers, L1 ${l1Bytes} bytes`)
      r.details[s] = { ceiling: summarize(ceiling), corral: summarize(corral), memcachedGetHits: getHits, corralAnswers: served }
      row(r, s, 'ceiling req/s (median)', fmt(ceiling.medianRps), '', 'info')
      row(r, s, 'corral req/s', fmt(corral.medianRps), '', 'info')
      ratioRow(r, s, 'ratio corral / ceiling', corral, ceiling, 0.5)
      cpuRatioRow(r, s, 'ratio corral / ceiling', corral, ceiling, 0.5)
      // Reads of one page in flight share one get (src/store/read-flight.ts): not one get per answer, but no answer
      // from L1, which holds nothing.
      row(r, s, 'answers served from memcached (L1 holds nothing)', `${getHits} get_hits, ${fmt(served / getHits, 1)} answers per get, L1 ${l1Bytes} bytes`,
        'get_hits > 0, L1 0 bytes', getHits > 0 && l1Bytes === 0 ? 'ok' : 'MISS')
      generatorRow(r, s, 'load generator CPU per round', measured)
    } finally {
      await Promise.all(measured.map(async (m) => await m.child.stop()))
    }
  })
}
