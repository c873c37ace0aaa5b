/**
 * Section 1: a 1 KB page from corral against the bare node:http ceiling, four servers side by side in interleaved
 * rounds: corral as users run it (the default config, access log on), with the access log off, and with every hit
 * from memcached (L1 off, access log off; left out when memcached is not installed). Then again pinned, the server on
 * one core and the runner (load generator, origin) on the other.
 */
import { canPin, pinCores, startMemcached, type Memcached } from '../lib.js'
import { metricSum } from '../probes.js'
import { atLeast, fmt, log, pct, row, type Run } from '../section.js'
import {
  ceilingContender, checkShapes, corralContender, cpuRatioRow, gateClientErrors, generatorRow, interleave, ratioRow, ratioText, rpsRatio, summarize,
  type Contender, type Measured
} from '../throughput.js'

/** issue 25's targets, as ratios to the ceiling. */
const TARGET = { default: 0.92, logOff: 0.97, memcached: 0.9 } as const

export async function hitSection (r: Run): Promise<void> {
  const s = '1 L1 hit'
  r.origin.setDelay(0)
  // The smoke run gates on errors, not ratios: it leaves memcached out.
  const mc: Memcached | null = r.smoke ? null : await startMemcached()
  const contenders: Contender[] = [
    ceilingContender(),
    corralContender('corral (default config)', r.origin.url, {}, true),
    corralContender('corral (access log off)', r.origin.url, {}, false)
  ]
  if (mc !== null) {
    contenders.push(corralContender('corral (memcached, no L1)', r.origin.url, { cache: { memcached: { servers: [mc.server] }, memory: { maxTtlSeconds: 0 } } }, false))
  } else if (!r.smoke) {
    row(r, s, 'ratio memcached hit (L1 off) / ceiling', 'skipped: memcached not installed', `>= ${TARGET.memcached}`, 'skipped')
  }
  let measured: Measured[] = []
  try {
    measured = await interleave(r, contenders, '/page')
    const [ceiling, on, off, shared] = measured as [Measured, Measured, Measured, Measured | undefined]
    // Against the log-off head: with access lines on, corral adds the request's X-Request-Id (the ceiling has none).
    await checkShapes(r, s, ceiling.child.url + '/page', off.child.url + '/page')
    const hits = await metricSum(on.child.adminUrl ?? '', 'corral_requests_total', 'cache="HIT"')
    const all = await metricSum(on.child.adminUrl ?? '', 'corral_requests_total')
    r.details[s] = {
      ceiling: summarize(ceiling),
      corralDefault: summarize(on),
      corralLogOff: summarize(off),
      ...(shared === undefined ? {} : { corralMemcached: summarize(shared) }),
      hitShareDefault: hits / all
    }
    log(`  ratios to the ceiling: ${sideBySide(measured, ceiling)}`)
    log(`  server CPU-µs per answer: ${measured.map((m) => `${shortName(m)} ${fmt(cpuUs(m), 1)}`).join(' | ')}`)
    row(r, s, 'ceiling req/s (median)', fmt(ceiling.medianRps), '', 'info')
    row(r, s, 'corral, default (log on) req/s', fmt(on.medianRps), '', 'info')
    row(r, s, 'corral, log off req/s', fmt(off.medianRps), '', 'info')
    ratioRow(r, s, 'ratio default config (log on) / ceiling', on, ceiling, TARGET.default)
    ratioRow(r, s, 'ratio log off / ceiling', off, ceiling, TARGET.logOff)
    if (shared !== undefined) ratioRow(r, s, 'ratio memcached hit (L1 off) / ceiling', shared, ceiling, TARGET.memcached)
    cpuRatioRow(r, s, 'ratio default config (log on) / ceiling', on, ceiling, TARGET.default)
    cpuRatioRow(r, s, 'ratio log off / ceiling', off, ceiling, TARGET.logOff)
    if (shared !== undefined) cpuRatioRow(r, s, 'ratio memcached hit (L1 off) / ceiling', shared, ceiling, TARGET.memcached)
    row(r, s, 'server CPU-µs per answer', measured.map((m) => `${shortName(m)} ${fmt(cpuUs(m), 1)}`).join(' | '), 'report', 'info')
    row(r, s, 'access log: on / off', `${ratioText(on, off)}, cost ${pct(1 - rpsRatio(on, off))}`, 'report', 'info')
    row(r, s, 'access log: CPU-µs per answer', fmt(cpuUs(on) - cpuUs(off), 2), 'report', 'info')
    row(r, s, 'share of corral answers that were HIT', pct(hits / all), '~100%', atLeast(hits / all, 0.99))
    generatorRow(r, s, 'load generator CPU per round', measured)
    row(r, s, 'load generator CPU-µs per answer', measured.map((m) => `${shortName(m)} ${fmt(generatorUs(m), 1)}`).join(' | '), 'report', 'info')
    gateClientErrors(r, s, measured)
  } finally {
    await Promise.all(measured.map(async (m) => await m.child.stop()))
    await mc?.stop()
  }
  await pinnedHit(r, s, mc !== null)
}

/** Server CPU per answer, µs: the median round's cost of one request (1e6 / requests per CPU-second). */
function cpuUs (m: Measured): number {
  return 1e6 / m.medianPerCpuS
}

/** The load generator's CPU per answer, µs, over all of the contender's rounds. */
function generatorUs (m: Measured): number {
  const cpuS = m.rounds.reduce((a, x) => a + x.generatorCpuS, 0)
  const requests = m.rounds.reduce((a, x) => a + x.requests, 0)
  return cpuS * 1e6 / requests
}

function shortName (m: Measured): string {
  return /\((.*)\)/.exec(m.name)?.[1] ?? m.name
}

/** Every corral contender's req/s ratio (and per CPU-second) on one line, the default config first. */
function sideBySide (measured: Measured[], ceiling: Measured): string {
  return measured.filter((m) => m !== ceiling)
    .map((m) => `${shortName(m)} ${fmt(rpsRatio(m, ceiling), 2)} (per CPU-s ${fmt(m.medianPerCpuS / ceiling.medianPerCpuS, 2)})`)
    .join('; ')
}

/**
 * Section 1 again with each side on a core of its own: the server (ceiling, corral) on core 1, the load generator on
 * core 0. Floating, the two share both cores: the scheduler moves them mid-round, and a response to a reader that went
 * to sleep costs the sender a wake-up on another core (writev took 11 µs per response against the ceiling and 16 µs
 * against corral in one profile), which widens any difference in the servers' own work.
 */
async function pinnedHit (r: Run, s: string, withMemcached: boolean): Promise<void> {
  // The smoke run gates on errors and stampedes, not ratios: it skips the second pass.
  if (r.smoke) return
  if (!canPin()) {
    row(r, s, 'pinned (a core each): ratio log off / ceiling', 'skipped: needs taskset and 2 cores', `>= ${TARGET.logOff}`, 'skipped')
    return
  }
  log('  pinned: the server on one core, the load generator on another')
  pinCores(true)
  // Started after the pin: memcached runs on the runner's core, as another machine would, never on the server's.
  let mc: Memcached | null = null
  let measured: Measured[] = []
  try {
    if (withMemcached) mc = await startMemcached()
    const contenders: Contender[] = [
      ceilingContender(),
      corralContender('corral (default config)', r.origin.url, {}, true),
      corralContender('corral (access log off)', r.origin.url, {}, false),
      // Node's default, without the flag npm start passes (src/ops/runtime.ts): what the flag is worth, measured here.
      corralContender('corral (V8 memory reducer)', r.origin.url, {}, false, ['--memory-reducer'])
    ]
    if (mc !== null) contenders.push(corralContender('corral (memcached, no L1)', r.origin.url, { cache: { memcached: { servers: [mc.server] }, memory: { maxTtlSeconds: 0 } } }, false))
    measured = await interleave(r, contenders, '/page')
    const [ceiling, on, off, reducer, shared] = measured as [Measured, Measured, Measured, Measured, Measured | undefined]
    r.details[`${s}.pinned`] = {
      ceiling: summarize(ceiling),
      corralDefault: summarize(on),
      corralLogOff: summarize(off),
      corralMemoryReducer: summarize(reducer),
      ...(shared === undefined ? {} : { corralMemcached: summarize(shared) })
    }
    ratioRow(r, s, 'pinned (a core each): ratio default config (log on) / ceiling', on, ceiling, TARGET.default)
    ratioRow(r, s, 'pinned (a core each): ratio log off / ceiling', off, ceiling, TARGET.logOff)
    if (shared !== undefined) ratioRow(r, s, 'pinned (a core each): ratio memcached hit (L1 off) / ceiling', shared, ceiling, TARGET.memcached)
    cpuRatioRow(r, s, 'pinned: ratio default config (log on) / ceiling', on, ceiling, TARGET.default)
    cpuRatioRow(r, s, 'pinned: ratio log off / ceiling', off, ceiling, TARGET.logOff)
    if (shared !== undefined) cpuRatioRow(r, s, 'pinned: ratio memcached hit (L1 off) / ceiling', shared, ceiling, TARGET.memcached)
    log(`  pinned, server CPU-µs per answer: ${measured.map((m) => `${shortName(m)} ${fmt(cpuUs(m), 1)}`).join(' | ')}`)
    row(r, s, 'pinned: node default (memory reducer on) / log off', ratioText(reducer, off), 'report', 'info')
    generatorRow(r, s, 'pinned: load generator CPU per round', measured)
    gateClientErrors(r, s, measured)
  } finally {
    pinCores(false)
    await Promise.all(measured.map(async (m) => await m.child.stop()))
    await mc?.stop()
  }
}
