/** The verdict: what failed, where and when, which paths did worst, and whether the harness was the limit. Pure. */
import type { PathReport, StageReport, Verdict } from './result.js'
import { describeThreshold, type ThresholdResult } from './thresholds.js'

const WORST = 3

/**
 * Worst first: the most failed (errors + 5xx share), then the slowest p99. A path that failed more is worse than
 * a slow one, because a failure is what the site's visitors see.
 */
export function worstPaths (paths: readonly PathReport[], n = WORST): Array<{ path: string, why: string }> {
  return [...paths]
    .filter((p) => p.requests + p.errors > 0)
    .sort((a, b) => b.errorRate - a.errorRate || b.p99Ms - a.p99Ms)
    .slice(0, n)
    .map((p) => {
      const fives = Object.entries(p.statuses).reduce((n, [code, count]) => code.startsWith('5') ? n + count : n, 0)
      const parts = [`p99 ${p.p99Ms} ms`, `${p.requests} responses`]
      if (fives > 0) parts.push(`${fives} 5xx`)
      if (p.errors > 0) parts.push(`${p.errors} errors`)
      if (p.errorRate > 0) parts.push(`error rate ${p.errorRate}`)
      return { path: p.path, why: parts.join(', ') }
    })
}

export function makeVerdict (
  ok: boolean, thresholds: readonly ThresholdResult[], graced: readonly ThresholdResult[], stages: readonly StageReport[], paths: readonly PathReport[]
): Verdict {
  return {
    ok,
    failed: thresholds.filter((t) => !t.ok).map(describeThreshold),
    graced: graced.map((t) => `${describeThreshold(t)}, inside abortGrace`),
    worstPaths: worstPaths(paths),
    saturatedStages: stages.filter((s) => s.generator.saturated).map((s) => s.name),
    saturation: stages.filter((s) => s.generator.saturated).map(describeSaturation)
  }
}

/**
 * A busy event loop that got little CPU was waiting for a core: the machine is short of CPU (shared, or the
 * proxy runs beside the harness), and --workers will not help; one that used its core needs more threads.
 */
export function describeSaturation (s: StageReport): string {
  const g = s.generator
  const starved = g.cpuCores < g.busy / 2
  return `load generator saturated in ${s.name} (busiest thread ${Math.round(g.busy * 100)}% busy, harness CPU ${g.cpuCores} cores): ` +
    `its figures are the harness's limit, not the proxy's; ${starved ? 'the machine is short of CPU, so run the harness on another one' : 'run with more --workers'}`
}

/** The verdict as lines for the terminal. */
export function verdictLines (v: Verdict, interrupted: boolean): string[] {
  const lines: string[] = []
  if (v.ok) lines.push('ok: every threshold held')
  else if (interrupted) lines.push('FAILED: interrupted')
  for (const f of v.failed) lines.push(`FAILED: ${f}`)
  for (const g of v.graced) lines.push(`note: ${g}`)
  if (!v.ok && v.worstPaths.length > 0) lines.push(`worst paths: ${v.worstPaths.map((p) => `${p.path} (${p.why})`).join('; ')}`)
  for (const line of v.saturation) lines.push(`WARNING: ${line}`)
  return lines
}
