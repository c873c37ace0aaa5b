/**
 * `npm run bench`: corral's benchmarks against DESIGN.md §4, as ratios measured side by side in one run (2 noisy cores:
 * absolute numbers move from run to run, ratios much less). Servers run in child processes; the load generator
 * (autocannon, or undici for bursts) and the counting origin run here. Prints a table and writes
 * .tmp/bench-results.json. Ratios never set the exit code; with --smoke a stampede that reaches the origin more than
 * once, a client that got a non-2xx, or a section that crashed does.
 *
 *   npm run bench                         every section (about 4-5 minutes)
 *   npm run bench -- --smoke              sections 1, 3, 4, one short round each (CI)
 *   npm run bench -- --only hit,stampede  a subset, by number or name
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  ROOT, burst, load, median, memcachedStats, metricSum, processTree, responseShape, sleep, startCeiling, startCorral,
  canPin, pinCores, snapshotDist, sourceVersion, startMemcached, statusKb, stopAll, takeUnexpectedExits, treeCpuSeconds, type Child, type LoadResult, type Memcached
} from './lib.js'
import { startOrigin, type BenchOrigin } from './origin.js'

type Verdict = 'ok' | 'MISS' | 'info' | 'skipped' | 'failed'

interface Row {
  readonly section: string
  readonly metric: string
  readonly measured: string
  readonly target: string
  readonly verdict: Verdict
}

interface Run {
  readonly smoke: boolean
  readonly origin: BenchOrigin
  readonly rows: Row[]
  readonly details: Record<string, unknown>
  /** Reasons the smoke run must fail (stampede past the origin more than once, a non-2xx, a crash). */
  readonly gateFailures: string[]
  /** Throughput timing: rounds, seconds per round, warm-up seconds. */
  readonly rounds: number
  readonly roundS: number
  readonly warmupS: number
}

const CONNECTIONS = 64

interface Section {
  readonly id: string
  readonly name: string
  readonly title: string
  readonly smoke: boolean
  run (r: Run): Promise<void>
}

const SECTIONS: Section[] = [
  { id: '1', name: 'hit', title: 'L1 hit vs ceiling', smoke: true, run: hitSection },
  { id: '2', name: 'expiry', title: 'Expiry under load', smoke: false, run: expirySection },
  { id: '3', name: 'stampede', title: 'Stampede', smoke: true, run: stampedeSection },
  { id: '4', name: 'uncacheable', title: 'Uncacheable burst', smoke: true, run: uncacheableSection },
  { id: '5', name: 'memcached', title: 'memcached hit vs ceiling', smoke: false, run: memcachedHitSection },
  { id: '6', name: 'workers', title: 'workers auto vs 2-worker ceiling', smoke: false, run: workersSection },
  { id: '7', name: 'memory', title: 'Memory under many keys', smoke: false, run: memorySection }
]

// ─── helpers ────────────────────────────────────────────────────────────────────────────────────────────────────

function row (r: Run, section: string, metric: string, measured: string, target: string, verdict: Verdict): void {
  r.rows.push({ section, metric, measured, target, verdict })
}

function log (line: string): void {
  process.stdout.write(`${line}\n`)
}

const fmt = (n: number, digits = 0): string => Number.isFinite(n) ? n.toFixed(digits) : 'n/a'
const pct = (n: number): string => Number.isFinite(n) ? `${(n * 100).toFixed(0)}%` : 'n/a'
const mib = (kb: number): string => Number.isFinite(kb) ? `${(kb / 1024).toFixed(1)} MiB` : 'n/a'
let unique = Date.now()
const freshPath = (prefix: string): string => `${prefix}/${(unique++).toString(36)}`

function atLeast (value: number, target: number): Verdict {
  return Number.isFinite(value) ? (value >= target ? 'ok' : 'MISS') : 'failed'
}

function atMost (value: number, target: number): Verdict {
  return Number.isFinite(value) ? (value <= target ? 'ok' : 'MISS') : 'failed'
}

async function withMemcached (r: Run, section: string, fn: (mc: Memcached) => Promise<void>): Promise<void> {
  const mc = await startMemcached()
  if (mc === null) {
    log('  skipped: memcached not installed')
    row(r, section, 'memcached', 'skipped: memcached not installed', '', 'skipped')
    return
  }
  try {
    await fn(mc)
  } finally {
    await mc.stop()
  }
}

// ─── throughput: interleaved rounds ─────────────────────────────────────────────────────────────────────────────

/** A server under test: corral has an admin URL, the ceiling none. */
type Server = Child & { readonly url: string, readonly adminUrl?: string }

interface Contender {
  readonly name: string
  start (): Promise<Server>
}

interface Measured {
  readonly name: string
  readonly runs: LoadResult[]
  /** Server CPU (its whole process tree) per round, in cores (1.0 = one core busy). */
  readonly serverCores: number[]
  /** The runner's (load generator's) CPU per round, in cores. */
  readonly loadgenCores: number[]
  readonly medianRps: number
  /** Requests per CPU-second of the server's process tree, median over rounds: steadier than req/s when other
   * processes take CPU from the server mid-run, because it measures the cost of a request, not the share of a core. */
  readonly medianPerCpuS: number
  readonly child: Server
}

/**
 * Start every contender, warm each once, then interleave rounds (a, b, c, a, b, c, …) so that noise from the shared
 * machine lands on all of them alike. Returns the servers still running (the caller stops them).
 */
async function interleave (r: Run, contenders: Contender[], path: string): Promise<Measured[]> {
  const started: Array<{ name: string, child: Server }> = []
  try {
    for (const c of contenders) started.push({ name: c.name, child: await c.start() })
  } catch (err) {
    await Promise.all(started.map(async (s) => await s.child.stop()))
    throw err
  }
  const out = started.map((s) => ({ name: s.name, child: s.child, runs: [] as LoadResult[], serverCores: [] as number[], loadgenCores: [] as number[] }))
  for (const s of out) {
    await load(s.child.url + path, CONNECTIONS, r.warmupS)
  }
  for (let round = 0; round < r.rounds; round++) {
    for (const s of out) {
      const cpu0 = treeCpuSeconds(s.child.pid)
      const self0 = process.cpuUsage()
      const t0 = performance.now()
      const result = await load(s.child.url + path, CONNECTIONS, r.roundS)
      const wallS = (performance.now() - t0) / 1000
      const self = process.cpuUsage(self0)
      s.runs.push(result)
      s.serverCores.push((treeCpuSeconds(s.child.pid) - cpu0) / wallS)
      s.loadgenCores.push((self.user + self.system) / 1e6 / wallS)
      log(`  round ${round + 1} ${s.name.padEnd(22)} ${fmt(result.rps).padStart(7)} req/s  p99 ${result.p99Ms} ms  server ${fmt(s.serverCores.at(-1) ?? NaN, 2)} cores (${fmt(result.rps / (s.serverCores.at(-1) ?? NaN))} req/CPU-s)  loadgen ${fmt(s.loadgenCores.at(-1) ?? NaN, 2)} cores${result.non2xx + result.errors > 0 ? `  non-2xx ${result.non2xx} errors ${result.errors}` : ''}`)
    }
  }
  return out.map((s) => ({
    ...s,
    medianRps: median(s.runs.map((x) => x.rps)),
    medianPerCpuS: median(s.runs.map((x, i) => x.rps / (s.serverCores[i] ?? NaN)))
  }))
}

function summarize (m: Measured): Record<string, unknown> {
  return {
    medianRps: Math.round(m.medianRps),
    medianPerCpuS: Math.round(m.medianPerCpuS),
    rps: m.runs.map((x) => Math.round(x.rps)),
    p99Ms: m.runs.map((x) => x.p99Ms),
    maxMs: m.runs.map((x) => x.maxMs),
    non2xx: m.runs.reduce((a, x) => a + x.non2xx, 0),
    errors: m.runs.reduce((a, x) => a + x.errors, 0),
    serverCores: m.serverCores.map((x) => Number(x.toFixed(2))),
    loadgenCores: m.loadgenCores.map((x) => Number(x.toFixed(2)))
  }
}

/** The ratio of medians (the headline) followed by each round's paired ratio, so drift on a noisy machine shows. */
function ratioText (num: Measured, den: Measured): string {
  const rounds = num.runs.map((x, i) => x.rps / (den.runs[i]?.rps ?? NaN))
  const ratio = num.medianRps / den.medianRps
  return rounds.length > 1 ? `${fmt(ratio, 2)} (rounds ${rounds.map((x) => fmt(x, 2)).join(' ')})` : fmt(ratio, 2)
}

/** Requests per server CPU-second, as a ratio: the cost of a request against the ceiling's. */
function cpuRatioRow (r: Run, section: string, label: string, num: Measured, den: Measured, target: number): void {
  const ratio = num.medianPerCpuS / den.medianPerCpuS
  row(r, section, `${label} per server CPU-s`, `${fmt(ratio, 2)} (${fmt(num.medianPerCpuS)} / ${fmt(den.medianPerCpuS)})`, `>= ${target}`, atLeast(ratio, target))
}

function gateClientErrors (r: Run, section: string, measured: Measured[]): void {
  for (const m of measured) {
    const bad = m.runs.reduce((a, x) => a + x.non2xx + x.errors, 0)
    if (bad > 0) r.gateFailures.push(`${section}: ${m.name} had ${bad} non-2xx responses or errors`)
  }
}

/** Compare the heads the ceiling and corral write, so the denominator stays honest when corral's headers change. */
async function checkShapes (r: Run, section: string, ceilingUrl: string, corralUrl: string): Promise<void> {
  const [a, b] = await Promise.all([responseShape(ceilingUrl), responseShape(corralUrl)])
  const same = a.names.join() === b.names.join() && a.bodyBytes === b.bodyBytes
  r.details[`${section}.shape`] = { ceiling: a, corral: b }
  log(`  response head: ceiling ${a.headBytes} B, corral ${b.headBytes} B; body ${a.bodyBytes} / ${b.bodyBytes} B${same ? '' : `  WARNING: headers differ: ceiling [${a.names.join(' ')}] corral [${b.names.join(' ')}]`}`)
}

function corralContender (name: string, originUrl: string, extra: Record<string, unknown> = {}, log0 = false, nodeFlags?: readonly string[]): Contender {
  return {
    name,
    start: async () => await startCorral({ origin: { url: originUrl }, log: { access: log0 }, ...extra }, nodeFlags)
  }
}

function ceilingContender (workers = 1): Contender {
  return { name: workers > 1 ? `ceiling (${workers} workers)` : 'ceiling', start: async () => await startCeiling(workers) }
}

// ─── sections ───────────────────────────────────────────────────────────────────────────────────────────────────

async function hitSection (r: Run): Promise<void> {
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
    row(r, s, 'ratio log off / ceiling', ratioText(off, ceiling), '>= 0.85', atLeast(off.medianRps / ceiling.medianRps, 0.85))
    row(r, s, 'ratio log on / ceiling', ratioText(on, ceiling), '>= 0.85', atLeast(on.medianRps / ceiling.medianRps, 0.85))
    cpuRatioRow(r, s, 'ratio log off / ceiling', off, ceiling, 0.85)
    cpuRatioRow(r, s, 'ratio log on / ceiling', on, ceiling, 0.85)
    row(r, s, 'access log: on / off', `${ratioText(on, off)}, cost ${pct(1 - on.medianRps / off.medianRps)}`, 'report', 'info')
    row(r, s, 'access log: on / off per server CPU-s', fmt(on.medianPerCpuS / off.medianPerCpuS, 2), 'report', 'info')
    row(r, s, 'share of corral answers that were HIT', pct(hits / all), '~100%', atLeast(hits / all, 0.99))
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
      // Node's default, without the flag npm start passes (src/runtime.ts): what the flag is worth, measured here.
      corralContender('corral (V8 memory reducer)', r.origin.url, {}, false, ['--memory-reducer'])
    ], '/page')
    const [ceiling, off, reducer] = measured as [Measured, Measured, Measured]
    r.details[`${s}.pinned`] = { ceiling: summarize(ceiling), corralLogOff: summarize(off), corralMemoryReducer: summarize(reducer) }
    row(r, s, 'pinned (a core each): ratio log off / ceiling', ratioText(off, ceiling), '>= 0.85', atLeast(off.medianRps / ceiling.medianRps, 0.85))
    cpuRatioRow(r, s, 'pinned: ratio log off / ceiling', off, ceiling, 0.85)
    row(r, s, 'pinned: node default (memory reducer on) / log off', ratioText(reducer, off), 'report', 'info')
    gateClientErrors(r, s, measured)
  } finally {
    pinCores(false)
    await Promise.all(measured.map(async (m) => await m.child.stop()))
  }
}

async function expirySection (r: Run): Promise<void> {
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

async function stampedeSection (r: Run): Promise<void> {
  const s = '3 stampede'
  const n = 500
  r.origin.setDelay(300)
  const corral = await startCorral({ origin: { url: r.origin.url } })
  try {
    r.origin.reset()
    const result = await burst([{ url: corral.url, count: n }], freshPath('/cold'))
    const originRequests = r.origin.requests()
    log(`  1 process: ${n} requests  origin requests ${originRequests}  non-2xx ${result.non2xx}  errors ${result.errors}  slowest ${fmt(result.maxMs)} ms  x-cache ${JSON.stringify(result.xCache)}`)
    r.details[`${s}.single`] = { originRequests, ...result }
    row(r, s, `1 process: origin requests (${n} concurrent)`, String(originRequests), '1', originRequests === 1 ? 'ok' : 'MISS')
    row(r, s, '1 process: non-2xx + errors', String(result.non2xx + result.errors), '0', result.non2xx + result.errors === 0 ? 'ok' : 'MISS')
    row(r, s, '1 process: slowest response', `${fmt(result.maxMs)} ms`, 'report (origin 300 ms)', 'info')
    if (originRequests !== 1) r.gateFailures.push(`${s}: 1 process sent ${originRequests} requests to the origin (want 1)`)
    if (result.non2xx + result.errors > 0) r.gateFailures.push(`${s}: 1 process: ${result.non2xx} non-2xx, ${result.errors} errors${result.firstError !== undefined ? ` (${result.firstError})` : ''}`)
  } finally {
    await corral.stop()
  }

  await withMemcached(r, s, async (mc) => {
    // includeHost off: both proxies see their own port in Host, and a fleet behind a balancer shares one host.
    const config = { origin: { url: r.origin.url }, cache: { memcached: { servers: [mc.server] }, key: { includeHost: false } } }
    const a = await startCorral(config)
    try {
      const b = await startCorral(config)
      try {
        const stats0 = await memcachedStats(mc.port)
        r.origin.reset()
        const result = await burst([{ url: a.url, count: n / 2 }, { url: b.url, count: n / 2 }], freshPath('/cold'))
        const originRequests = r.origin.requests()
        const stats1 = await memcachedStats(mc.port)
        const mcOps = { cmd_get: (stats1.cmd_get ?? 0) - (stats0.cmd_get ?? 0), cmd_set: (stats1.cmd_set ?? 0) - (stats0.cmd_set ?? 0) }
        log(`  2 processes + memcached: ${n / 2} + ${n / 2} requests  origin requests ${originRequests}  non-2xx ${result.non2xx}  errors ${result.errors}  slowest ${fmt(result.maxMs)} ms  x-cache ${JSON.stringify(result.xCache)}  memcached ops ${JSON.stringify(mcOps)}`)
        r.details[`${s}.fleet`] = { originRequests, memcachedOps: mcOps, ...result }
        row(r, s, '2 processes + memcached: origin requests', String(originRequests), '1', originRequests === 1 ? 'ok' : 'MISS')
        row(r, s, '2 processes: non-2xx + errors', String(result.non2xx + result.errors), '0', result.non2xx + result.errors === 0 ? 'ok' : 'MISS')
        row(r, s, '2 processes: memcached get / set (add) ops', `${mcOps.cmd_get} / ${mcOps.cmd_set}`, '> 0 (tier in use)', mcOps.cmd_get + mcOps.cmd_set > 0 ? 'ok' : 'MISS')
        if (originRequests !== 1) r.gateFailures.push(`${s}: 2 processes sharing memcached sent ${originRequests} requests to the origin (want 1)`)
        if (result.non2xx + result.errors > 0) r.gateFailures.push(`${s}: 2 processes: ${result.non2xx} non-2xx, ${result.errors} errors`)
      } finally {
        await b.stop()
      }
    } finally {
      await a.stop()
    }
  })
}

async function uncacheableSection (r: Run): Promise<void> {
  const s = '4 uncacheable'
  const n = 100
  const originMs = 300
  r.origin.setDelay(originMs)
  const corral = await startCorral({ origin: { url: r.origin.url } })
  try {
    const path = freshPath('/nostore')
    const bursts = [{ label: 'never-seen URL', target: 2 * originMs }, { label: 'remembered as pass', target: originMs }]
    for (const [i, b] of bursts.entries()) {
      r.origin.reset()
      const result = await burst([{ url: corral.url, count: n }], path)
      const originRequests = r.origin.requests()
      log(`  burst ${i + 1} (${b.label}): slowest ${fmt(result.maxMs)} ms  median ${fmt(result.medianMs)} ms  origin requests ${originRequests}  non-2xx ${result.non2xx}  errors ${result.errors}  x-cache ${JSON.stringify(result.xCache)}`)
      r.details[`${s}.burst${i + 1}`] = { originRequests, ...result }
      // Slack of half an origin round trip for a noisy 2-core machine; a serialized queue would be n × 300 ms.
      row(r, s, `burst ${i + 1} (${b.label}): slowest`, `${fmt(result.maxMs)} ms`, `~${b.target} ms`, atMost(result.maxMs, b.target + originMs / 2))
      row(r, s, `burst ${i + 1}: origin requests`, String(originRequests), String(n), originRequests === n ? 'ok' : 'MISS')
      row(r, s, `burst ${i + 1}: non-2xx + errors`, String(result.non2xx + result.errors), '0', result.non2xx + result.errors === 0 ? 'ok' : 'MISS')
      if (result.non2xx + result.errors > 0) r.gateFailures.push(`${s}: burst ${i + 1}: ${result.non2xx} non-2xx, ${result.errors} errors${result.firstError !== undefined ? ` (${result.firstError})` : ''}`)
    }
  } finally {
    await corral.stop()
  }
}

async function memcachedHitSection (r: Run): Promise<void> {
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
      const getHits = (stats1.get_hits ?? 0) - (stats0.get_hits ?? 0)
      const ratio = corral.medianRps / ceiling.medianRps
      log(`  memcached get_hits ${getHits} for ${served} corral answers`)
      r.details[s] = { ceiling: summarize(ceiling), corral: summarize(corral), memcachedGetHits: getHits, corralAnswers: served }
      row(r, s, 'ceiling req/s (median)', fmt(ceiling.medianRps), '', 'info')
      row(r, s, 'corral req/s', fmt(corral.medianRps), '', 'info')
      row(r, s, 'ratio corral / ceiling', ratioText(corral, ceiling), '>= 0.5', atLeast(ratio, 0.5))
      cpuRatioRow(r, s, 'ratio corral / ceiling', corral, ceiling, 0.5)
      row(r, s, 'answers served from memcached', `${pct(getHits / served)} (${getHits} get_hits)`, '~100% (L1 off)', atLeast(getHits / served, 0.9))
    } finally {
      await Promise.all(measured.map(async (m) => await m.child.stop()))
    }
  })
}

async function workersSection (r: Run): Promise<void> {
  const s = '6 workers'
  r.origin.setDelay(0)
  const measured = await interleave(r, [ceilingContender(2), corralContender('corral (workers auto)', r.origin.url, { workers: 'auto' })], '/page')
  try {
    const [ceiling, corral] = measured as [Measured, Measured]
    const processes = processTree(corral.child.pid).length
    const workers = processes > 1 ? processes - 1 : 1
    const ratio = corral.medianRps / ceiling.medianRps
    r.details[s] = { ceiling: summarize(ceiling), corral: summarize(corral), corralProcesses: processes, cores: availableParallelism() }
    row(r, s, 'ceiling (2 workers) req/s', fmt(ceiling.medianRps), '', 'info')
    row(r, s, 'corral (workers auto) req/s', fmt(corral.medianRps), '', 'info')
    row(r, s, 'ratio corral / ceiling', ratioText(corral, ceiling), '>= 0.85', atLeast(ratio, 0.85))
    cpuRatioRow(r, s, 'ratio corral / ceiling', corral, ceiling, 0.85)
    row(r, s, 'corral workers seen', `${workers} (${processes} processes)`, String(availableParallelism()), workers === availableParallelism() ? 'ok' : 'MISS')
    row(r, s, 'server / loadgen CPU (corral, median)', `${fmt(median(corral.serverCores), 2)} / ${fmt(median(corral.loadgenCores), 2)} cores`, 'report', 'info')
  } finally {
    await Promise.all(measured.map(async (m) => await m.child.stop()))
  }
}

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
async function memorySection (r: Run): Promise<void> {
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

// ─── main ───────────────────────────────────────────────────────────────────────────────────────────────────────

function printTable (rows: Row[]): string {
  const head: Row = { section: 'section', metric: 'metric', measured: 'measured', target: 'target', verdict: 'info' }
  const all = [head, ...rows]
  const w = {
    section: Math.max(...all.map((x) => x.section.length)),
    metric: Math.max(...all.map((x) => x.metric.length)),
    measured: Math.max(...all.map((x) => x.measured.length)),
    target: Math.max(...all.map((x) => x.target.length))
  }
  const line = (x: Row, verdict: string): string =>
    `${x.section.padEnd(w.section)}  ${x.metric.padEnd(w.metric)}  ${x.measured.padEnd(w.measured)}  ${x.target.padEnd(w.target)}  ${verdict}`
  const out = [line(head, 'verdict'), '-'.repeat(w.section + w.metric + w.measured + w.target + 16)]
  let last = ''
  for (const x of rows) {
    out.push(line({ ...x, section: x.section === last ? '' : x.section }, x.verdict === 'info' ? '' : x.verdict))
    last = x.section
  }
  return out.join('\n')
}

function selectSections (smoke: boolean, only: string | undefined): Section[] {
  if (only === undefined) return SECTIONS.filter((x) => !smoke || x.smoke)
  const wanted = only.split(',').map((x) => x.trim()).filter((x) => x !== '')
  for (const w of wanted) {
    if (!SECTIONS.some((x) => x.id === w || x.name === w)) throw new Error(`--only: unknown section "${w}" (one of ${SECTIONS.map((x) => `${x.id}/${x.name}`).join(', ')})`)
  }
  return SECTIONS.filter((x) => wanted.includes(x.id) || wanted.includes(x.name))
}

async function main (): Promise<number> {
  const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false }, only: { type: 'string' } }, strict: true })
  const smoke = values.smoke
  const sections = selectSections(smoke, values.only)
  const version = sourceVersion()
  const removeSnapshot = snapshotDist()
  const origin = await startOrigin(200)
  const r: Run = {
    smoke,
    origin,
    rows: [],
    details: {},
    gateFailures: [],
    rounds: smoke ? 1 : 5,
    roundS: smoke ? 2 : 5,
    warmupS: smoke ? 1 : 2
  }
  const started = new Date()
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`\n${signal}: stopping child processes`)
    Promise.all([stopAll(), origin.close()]).finally(() => {
      removeSnapshot()
      process.exit(130)
    }).catch(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const env = `node ${process.version}, ${availableParallelism()} cores, ${started.toISOString()}, ${version.commit}${version.dirtySrc ? ' + uncommitted src/' : ''}${smoke ? ', --smoke' : ''}`
  log(`corral bench: ${env}`)
  try {
    for (const section of sections) {
      log(`\n[${section.id}] ${section.title}`)
      const t0 = performance.now()
      try {
        await section.run(r)
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err)
        log(`  FAILED: ${message}`)
        row(r, `${section.id} ${section.name}`, 'section crashed', message.slice(0, 80), '', 'failed')
        r.gateFailures.push(`${section.id} ${section.name}: crashed: ${message}`)
      } finally {
        await stopAll() // nothing a section started outlives it
      }
      for (const exit of takeUnexpectedExits()) {
        log(`  FAILED: ${exit}; this section's figures are void`)
        row(r, `${section.id} ${section.name}`, 'child process died', exit.slice(-80), '', 'failed')
        r.gateFailures.push(`${section.id} ${section.name}: ${exit}`)
      }
      log(`  (${fmt((performance.now() - t0) / 1000, 1)} s)`)
    }
  } finally {
    await stopAll()
    await origin.close()
    removeSnapshot()
  }
  const elapsedS = (Date.now() - started.getTime()) / 1000
  log(`\nResults (${env}, ${fmt(elapsedS)} s; ratios are medians of interleaved rounds measured in this run)\n`)
  log(printTable(r.rows))
  const file = join(ROOT, '.tmp/bench-results.json')
  mkdirSync(join(ROOT, '.tmp'), { recursive: true })
  writeFileSync(file, JSON.stringify({
    date: started.toISOString(),
    node: process.version,
    ...version,
    cores: availableParallelism(),
    smoke,
    sections: sections.map((x) => x.id),
    elapsedS,
    rows: r.rows,
    details: r.details,
    gateFailures: r.gateFailures
  }, null, 2) + '\n')
  log(`\nwrote ${file}`)
  if (smoke && r.gateFailures.length > 0) {
    log(`\nsmoke gate FAILED:\n${r.gateFailures.map((x) => `  - ${x}`).join('\n')}`)
    return 1
  }
  return 0
}

main().then((code) => { process.exitCode = code }, async (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  await stopAll()
  process.exitCode = 1
})
