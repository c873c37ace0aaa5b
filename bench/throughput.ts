/**
 * Throughput sections (1, 5, 6): contenders started side by side and measured in interleaved rounds by the run's load
 * generator, with the server's and the generator's CPU beside each round; a round whose generator was saturated does
 * not count (rounds.ts). Also the rows these sections share: ratios, per-CPU-second ratios, the generator's own row.
 */
import { startCeiling, startCorral, type Child } from './lib.js'
import type { GeneratedLoad } from './loadgen/types.js'
import { responseShape } from './probes.js'
import { treeCpuSeconds } from './proc.js'
import { countingMedian, isSaturated, pairedRatio, roundOrder, SATURATED_SHARE } from './rounds.js'
import { atLeast, CONNECTIONS, fmt, log, row, type Run, type Verdict } from './section.js'

/** A server under test: corral has an admin URL, the ceiling none. */
export type Server = Child & { readonly url: string, readonly adminUrl?: string }

export interface Contender {
  readonly name: string
  start (): Promise<Server>
}

export interface Round extends GeneratedLoad {
  /** Server CPU (its whole process tree) over the round, in seconds and in cores (1.0 = one core busy). */
  readonly serverCpuS: number
  readonly serverCores: number
  /** Requests answered per second of server CPU: the cost of a request, whatever share of a core the server got. */
  readonly perCpuS: number
  /** The generator's CPU over the round, in cores. */
  readonly loadgenCores: number
  /** False when the generator was saturated: the round measured the generator, not the server. */
  readonly counted: boolean
}

export interface Measured {
  readonly name: string
  readonly rounds: Round[]
  readonly countedRounds: number
  /** Median req/s over the counting rounds; NaN when none counted. */
  readonly medianRps: number
  /** Requests per CPU-second of the server's process tree, median over the counting rounds: steadier than req/s when
   * other processes take CPU from the server mid-run, because it measures the cost of a request, not the share of a core. */
  readonly medianPerCpuS: number
  readonly child: Server
}

async function measureRound (r: Run, child: Server, path: string, headers: Readonly<Record<string, string>>): Promise<Round> {
  const cpu0 = treeCpuSeconds(child.pid)
  const load = await r.generator.run(child.url + path, CONNECTIONS, r.roundS, headers)
  const serverCpuS = treeCpuSeconds(child.pid) - cpu0
  // Shares of a core over the generator's own load window, not the wall time around it: a generator that starts a
  // node process (autocannon) took seconds to start on a busy machine, which diluted both shares to a few percent.
  // Its start-up CPU stays in its count, which errs towards calling it saturated.
  const loadgenCores = load.generatorCpuS / load.durationS
  return {
    ...load,
    serverCpuS,
    serverCores: serverCpuS / load.durationS,
    perCpuS: load.requests / serverCpuS,
    loadgenCores,
    counted: !isSaturated(loadgenCores, load.generatorMaxCores)
  }
}

function roundLine (round: number, name: string, x: Round, generator: string): string {
  const cores = `${fmt(x.loadgenCores, 2)} of ${x.generatorMaxCores} core${x.generatorMaxCores === 1 ? '' : 's'}`
  const bad = x.non2xx + x.errors > 0 ? `  non-2xx ${x.non2xx} errors ${x.errors}` : ''
  return `  round ${round} ${name.padEnd(26)} ${fmt(x.rps).padStart(7)} req/s  p99 ${fmt(x.p99Ms, 1)} ms  server ${fmt(x.serverCores, 2)} cores (${fmt(x.perCpuS)} req/CPU-s)  ${generator} ${cores}${x.counted ? '' : '  SATURATED: not counted'}${bad}`
}

/**
 * Start every contender, warm each once, then interleave rounds (a, b, c, a, b, c, …) so that noise from the shared
 * machine lands on all of them alike. Returns the servers still running (the caller stops them).
 */
export async function interleave (r: Run, contenders: Contender[], path: string, headers: Readonly<Record<string, string>> = {}): Promise<Measured[]> {
  const started: Array<{ name: string, child: Server }> = []
  try {
    for (const c of contenders) started.push({ name: c.name, child: await c.start() })
  } catch (err) {
    await Promise.all(started.map(async (s) => await s.child.stop()))
    throw err
  }
  const out = started.map((s) => ({ ...s, rounds: [] as Round[] }))
  for (const s of out) await r.generator.run(s.child.url + path, CONNECTIONS, r.warmupS, headers)
  for (let round = 0; round < r.rounds; round++) {
    for (const i of roundOrder(out.length, round)) {
      const s = out[i] as typeof out[number]
      const x = await measureRound(r, s.child, path, headers)
      s.rounds.push(x)
      log(roundLine(round + 1, s.name, x, r.generator.name))
    }
  }
  return out.map((s) => {
    const counted = s.rounds.map((x) => x.counted)
    return {
      ...s,
      countedRounds: counted.filter(Boolean).length,
      medianRps: countingMedian(s.rounds.map((x) => x.rps), counted),
      medianPerCpuS: countingMedian(s.rounds.map((x) => x.perCpuS), counted)
    }
  })
}

export function summarize (m: Measured): Record<string, unknown> {
  const two = (x: number): number => Number(x.toFixed(2))
  return {
    medianRps: Math.round(m.medianRps),
    medianPerCpuS: Math.round(m.medianPerCpuS),
    countedRounds: m.countedRounds,
    rps: m.rounds.map((x) => Math.round(x.rps)),
    counted: m.rounds.map((x) => x.counted),
    p99Ms: m.rounds.map((x) => x.p99Ms),
    maxMs: m.rounds.map((x) => x.maxMs),
    non2xx: m.rounds.reduce((a, x) => a + x.non2xx, 0),
    errors: m.rounds.reduce((a, x) => a + x.errors, 0),
    serverCores: m.rounds.map((x) => two(x.serverCores)),
    loadgenCores: m.rounds.map((x) => two(x.loadgenCores)),
    loadgenMaxCores: m.rounds.map((x) => x.generatorMaxCores)
  }
}

/** `void` when either side has no counting round: the generator, not the server, was measured throughout. */
export function ratioVerdict (ratio: number, target: number, num: Measured, den: Measured): Verdict {
  return num.countedRounds === 0 || den.countedRounds === 0 ? 'void' : atLeast(ratio, target)
}

/**
 * The ratio of medians (the headline) followed by each round's paired ratio, so drift on a noisy machine shows; a pair
 * with a saturated side is shown in brackets and, when any is, how many rounds each median used.
 */
/** The req/s ratio: the median of the rounds' ratios (rounds.ts pairedRatio). */
export function rpsRatio (num: Measured, den: Measured): number {
  return pairedRatio(num.rounds.map((x) => x.rps), num.rounds.map((x) => x.counted), den.rounds.map((x) => x.rps), den.rounds.map((x) => x.counted))
}

export function ratioText (num: Measured, den: Measured): string {
  const ratio = rpsRatio(num, den)
  const n = num.rounds.length
  const all = num.countedRounds === n && den.countedRounds === n
  const counts = all ? '' : `; counted ${num.countedRounds}/${n} and ${den.countedRounds}/${den.rounds.length}`
  if (n <= 1) return `${fmt(ratio, 2)}${all ? '' : ' (generator saturated)'}`
  const rounds = num.rounds.map((x, i) => {
    const d = den.rounds[i]
    const text = fmt(x.rps / (d?.rps ?? NaN), 2)
    return x.counted && d?.counted === true ? text : `[${text}]`
  })
  return `${fmt(ratio, 2)} (rounds ${rounds.join(' ')}${counts}; ratio of medians ${fmt(num.medianRps / den.medianRps, 2)})`
}

/** The req/s ratio row with its verdict. */
export function ratioRow (r: Run, section: string, label: string, num: Measured, den: Measured, target: number): void {
  const ratio = rpsRatio(num, den)
  row(r, section, label, ratioText(num, den), `>= ${target}`, ratioVerdict(ratio, target, num, den))
}

/** Requests per server CPU-second, as a ratio (the median of the rounds'): the cost of a request against the ceiling's. */
export function cpuRatioRow (r: Run, section: string, label: string, num: Measured, den: Measured, target: number): void {
  const ratio = pairedRatio(num.rounds.map((x) => x.perCpuS), num.rounds.map((x) => x.counted), den.rounds.map((x) => x.perCpuS), den.rounds.map((x) => x.counted))
  row(r, section, `${label} per server CPU-s`, `${fmt(ratio, 2)} (${fmt(num.medianPerCpuS)} / ${fmt(den.medianPerCpuS)})`, `>= ${target}`, ratioVerdict(ratio, target, num, den))
}

/** The generator's CPU over every round of these contenders and how many rounds counted: the instrument's own check. */
export function generatorRow (r: Run, section: string, label: string, measured: Measured[]): void {
  const rounds = measured.flatMap((m) => m.rounds)
  const cores = rounds.map((x) => x.loadgenCores).filter(Number.isFinite)
  const max = Math.max(...rounds.map((x) => x.generatorMaxCores))
  const counted = rounds.filter((x) => x.counted).length
  const range = cores.length > 0 ? `${fmt(Math.min(...cores), 2)}-${fmt(Math.max(...cores), 2)}` : 'n/a'
  row(r, section, label, `${r.generator.name} ${range} of ${max} core${max === 1 ? '' : 's'}; ${counted} of ${rounds.length} rounds counted`,
    `not saturated (< ${SATURATED_SHARE.toFixed(2)})`, counted === rounds.length ? 'ok' : counted === 0 ? 'void' : 'MISS')
}

export function gateClientErrors (r: Run, section: string, measured: Measured[]): void {
  for (const m of measured) {
    const bad = m.rounds.reduce((a, x) => a + x.non2xx + x.errors, 0)
    if (bad > 0) r.gateFailures.push(`${section}: ${m.name} had ${bad} non-2xx responses or errors`)
  }
}

/** Compare the heads the ceiling and corral write, so the denominator stays honest when corral's headers change. */
export async function checkShapes (r: Run, section: string, ceilingUrl: string, corralUrl: string): Promise<void> {
  const [a, b] = await Promise.all([responseShape(ceilingUrl), responseShape(corralUrl)])
  const same = a.names.join() === b.names.join() && a.bodyBytes === b.bodyBytes
  r.details[`${section}.shape`] = { ceiling: a, corral: b }
  log(`  response head: ceiling ${a.headBytes} B, corral ${b.headBytes} B; body ${a.bodyBytes} / ${b.bodyBytes} B${same ? '' : `  WARNING: headers differ: ceiling [${a.names.join(' ')}] corral [${b.names.join(' ')}]`}`)
}

export function corralContender (name: string, originUrl: string, extra: Record<string, unknown> = {}, log0 = false, nodeFlags?: readonly string[]): Contender {
  return {
    name,
    start: async () => await startCorral({ origin: { url: originUrl }, log: { access: log0 }, ...extra }, nodeFlags)
  }
}

export function ceilingContender (workers = 1): Contender {
  return { name: workers > 1 ? `ceiling (${workers} workers)` : 'ceiling', start: async () => await startCeiling(workers) }
}
