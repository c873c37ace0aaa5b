import { readFile } from 'node:fs/promises'
import type { SpikeResult, StageReport } from './run.js'

export class ReportError extends Error {
  readonly code = 'CORRAL_ERR_REPORT'
}

/** Reads a report.json written by `corral spike`; checks only what compare relies on. */
export async function readReport (path: string): Promise<SpikeResult> {
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new ReportError(`cannot read report ${path}: ${(err as Error).message}`, { cause: err })
  }
  const r = raw as Partial<SpikeResult> | null
  if (r === null || typeof r !== 'object' || typeof r.ok !== 'boolean' || !Array.isArray(r.stages)) {
    throw new ReportError(`${path} is not a corral spike report.json (needs "ok" and "stages")`)
  }
  return r as SpikeResult
}

interface Row {
  readonly label: string
  readonly a: number | undefined
  readonly b: number | undefined
  /** Whether a lower value is the better one, for the mark after the change. */
  readonly lowerIsBetter: boolean
}

function hitRatio (s: StageReport): number | undefined {
  if (s.requests === 0) return undefined
  return Math.round(((s.cache.HIT ?? 0) + (s.cache.STALE ?? 0)) / s.requests * 1000) / 10
}

function rowsOf (a: StageReport | undefined, b: StageReport | undefined): Row[] {
  const row = (label: string, get: (s: StageReport) => number | undefined, lowerIsBetter: boolean): Row =>
    ({ label, a: a === undefined ? undefined : get(a), b: b === undefined ? undefined : get(b), lowerIsBetter })
  return [
    row('requests', (s) => s.requests, false),
    row('req/s', (s) => s.rps, false),
    row('p50 ms', (s) => s.latencyMs.p50, true),
    row('p99 ms', (s) => s.latencyMs.p99, true),
    row('p99.9 ms', (s) => s.latencyMs.p999, true),
    row('max ms', (s) => s.latencyMs.max, true),
    row('errors', (s) => s.errors, true),
    row('error rate', (s) => s.errorRate, true),
    row('hit+stale %', hitRatio, false),
    row('origin requests', (s) => s.originRequests, true),
    row('origin req/s', (s) => s.originRps, true)
  ].filter((r) => r.a !== undefined || r.b !== undefined)
}

/**
 * The default noise band, in per cent: two runs of the same build on one machine differ by a few per cent in rates
 * and percentiles (CPU frequency, other tenants, timer lateness), so a smaller change is not called better or worse.
 */
export const DEFAULT_NOISE_PERCENT = 5

function change (r: Row, noisePercent: number): string {
  if (r.a === undefined || r.b === undefined) return ''
  if (r.a === r.b) return '='
  const relative = r.a === 0 ? undefined : (r.b - r.a) / r.a * 100
  const pct = relative === undefined ? '' : ` (${r.b > r.a ? '+' : ''}${Math.round(relative * 10) / 10}%)`
  const diff = `${r.b > r.a ? '+' : ''}${Math.round((r.b - r.a) * 100) / 100}${pct}`
  if (relative !== undefined && Math.abs(relative) < noisePercent) return `${diff} noise`
  const better = (r.b < r.a) === r.lowerIsBetter
  return `${diff} ${better ? 'better' : 'worse'}`
}

function seconds (ms: number): string {
  return `${Math.round(ms / 100) / 10} s`
}

/**
 * Stage-by-stage differences from report `a` to report `b`, as printable lines. A change within ±`noisePercent` is
 * marked "noise", not better or worse; a stage cut short in one report (an abort) is shown but not compared, since
 * its figures cover another stretch of load than the whole stage's.
 */
export function compareReports (a: SpikeResult, b: SpikeResult, labels: readonly [string, string] = ['a', 'b'], noisePercent = DEFAULT_NOISE_PERCENT): string[] {
  const lines: string[] = []
  const verdict = (r: SpikeResult): string => r.ok ? 'passed' : `failed${r.abortReason === undefined ? '' : ` (${r.abortReason})`}`
  lines.push(`${labels[0]}: ${verdict(a)}`, `${labels[1]}: ${verdict(b)}`)
  lines.push(`changes within ±${noisePercent}% are marked noise (run-to-run variation on one machine; --noise <percent> to change)`)
  const names = [...new Set([...a.stages.map((s) => s.name), ...b.stages.map((s) => s.name)])]
  // Three decimals at most: a raw histogram percentile (8.120116994196762) would fill its column and run into the next.
  const fmt = (v: number | undefined): string => v === undefined ? '-' : String(Math.round(v * 1000) / 1000)
  for (const name of names) {
    const sa = a.stages.find((s) => s.name === name)
    const sb = b.stages.find((s) => s.name === name)
    const cut = sa !== undefined && sb !== undefined && sa.completed !== sb.completed ? (sa.completed ? [labels[1], sb] as const : [labels[0], sa] as const) : undefined
    const note = sa === undefined
      ? ` (only in ${labels[1]})`
      : sb === undefined
        ? ` (only in ${labels[0]})`
        : cut !== undefined ? ` (cut short in ${cut[0]} after ${seconds(cut[1].durationMs)} of ${seconds(cut[1].plannedDurationMs)}: shown, not compared)` : ''
    lines.push('', `stage ${name}${note}`)
    lines.push(`  ${'metric'.padEnd(16)}${labels[0].padStart(12)}${labels[1].padStart(12)}  ${cut === undefined ? 'change' : ''}`.trimEnd())
    for (const r of rowsOf(sa, sb)) lines.push(`  ${r.label.padEnd(16)}${fmt(r.a).padStart(12)}${fmt(r.b).padStart(12)}  ${cut === undefined ? change(r, noisePercent) : ''}`.trimEnd())
  }
  return lines
}
