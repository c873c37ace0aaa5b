/**
 * Section 1: a 1 KB page from corral's L1 against the bare node:http ceiling, with the access log off and on; then
 * again pinned, the server on one core and the runner (load generator, origin) on the other.
 */
import { canPin, pinCores } from '../lib.js'
import { metricSum } from '../probes.js'
import { atLeast, fmt, log, pct, row, type Run } from '../section.js'
import {
  ceilingContender, checkShapes, corralContender, cpuRatioRow, gateClientErrors, generatorRow, interleave, ratioRow, ratioText, summarize, type Measured
} from '../throughput.js'

export async function hitSection (r: Run): Promise<void> {
  const s = '1 L1 hit'
  r.origin.setDelay(0)
  const measured = await interleave(r, [
    ceilingContender(),
    corralContender('corral (access log off)', r.origin.url, {}, false),
    corralContender('corral (access log on)', r.origin.url, {}, true)
  ], '/page')
  try {
    const [ceiling, off, on] = measured as [Measured, Measured, Measured]
    await checkShapes(r, s, ceiling.child.url + '/page', off.child.url + '/page')
    const hits = await metricSum(off.child.adminUrl ?? '', 'corral_requests_total', 'cache="HIT"')
    const all = await metricSum(off.child.adminUrl ?? '', 'corral_requests_total')
    r.details[s] = { ceiling: summarize(ceiling), corralLogOff: summarize(off), corralLogOn: summarize(on), hitShareLogOff: hits / all }
    row(r, s, 'ceiling req/s (median)', fmt(ceiling.medianRps), '', 'info')
    row(r, s, 'corral, log off req/s', fmt(off.medianRps), '', 'info')
    row(r, s, 'corral, log on req/s', fmt(on.medianRps), '', 'info')
    ratioRow(r, s, 'ratio log off / ceiling', off, ceiling, 0.85)
    ratioRow(r, s, 'ratio log on / ceiling', on, ceiling, 0.85)
    cpuRatioRow(r, s, 'ratio log off / ceiling', off, ceiling, 0.85)
    cpuRatioRow(r, s, 'ratio log on / ceiling', on, ceiling, 0.85)
    row(r, s, 'access log: on / off', `${ratioText(on, off)}, cost ${pct(1 - on.medianRps / off.medianRps)}`, 'report', 'info')
    row(r, s, 'access log: on / off per server CPU-s', fmt(on.medianPerCpuS / off.medianPerCpuS, 2), 'report', 'info')
    row(r, s, 'share of corral answers that were HIT', pct(hits / all), '~100%', atLeast(hits / all, 0.99))
    generatorRow(r, s, 'load generator CPU per round', measured)
    gateClientErrors(r, s, measured)
  } finally {
    await Promise.all(measured.map(async (m) => await m.child.stop()))
  }
  await pinnedHit(r, s)
}

/**
 * Section 1 again with each side on a core of its own: the server (ceiling, corral) on core 1, the load generator on
 * core 0. Floating, the two share both cores: the scheduler moves them mid-round, and a response to a reader that went
 * to sleep costs the sender a wake-up on another core (writev took 11 µs per response against the ceiling and 16 µs
 * against corral in one profile), which widens any difference in the servers' own work.
 */
async function pinnedHit (r: Run, s: string): Promise<void> {
  // The smoke run gates on errors and stampedes, not ratios: it skips the second pass.
  if (r.smoke) return
  if (!canPin()) {
    row(r, s, 'pinned (a core each): ratio log off / ceiling', 'skipped: needs taskset and 2 cores', '>= 0.85', 'skipped')
    return
  }
  log('  pinned: the server on one core, the load generator on another')
  pinCores(true)
  let measured: Measured[] = []
  try {
    measured = await interleave(r, [
      ceilingContender(),
      corralContender('corral (access log off)', r.origin.url, {}, false),
      // Node's default, without the flag npm start passes (src/ops/runtime.ts): what the flag is worth, measured here.
      corralContender('corral (V8 memory reducer)', r.origin.url, {}, false, ['--memory-reducer'])
    ], '/page')
    const [ceiling, off, reducer] = measured as [Measured, Measured, Measured]
    r.details[`${s}.pinned`] = { ceiling: summarize(ceiling), corralLogOff: summarize(off), corralMemoryReducer: summarize(reducer) }
    ratioRow(r, s, 'pinned (a core each): ratio log off / ceiling', off, ceiling, 0.85)
    cpuRatioRow(r, s, 'pinned: ratio log off / ceiling', off, ceiling, 0.85)
    row(r, s, 'pinned: node default (memory reducer on) / log off', ratioText(reducer, off), 'report', 'info')
    generatorRow(r, s, 'pinned: load generator CPU per round', measured)
    gateClientErrors(r, s, measured)
  } finally {
    pinCores(false)
    await Promise.all(measured.map(async (m) => await m.child.stop()))
  }
}
