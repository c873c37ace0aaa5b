import type { Thresholds } from './scenario.js'

export type ThresholdKey = keyof Thresholds

/** The figures of one stage (so far, or final) that thresholds are checked against. */
export interface StageFigures {
  readonly rps: number
  readonly p99Ms: number
  readonly p999Ms: number
  readonly errorRate: number
}

export interface ThresholdResult {
  /** `<stage>.<key>`, e.g. `spike.p99Ms`. */
  readonly name: string
  readonly stage: string
  readonly key: ThresholdKey
  readonly limit: number
  readonly value: number
  readonly ok: boolean
}

/** `live`: while the stage runs. `final`: when it ends. */
export type ThresholdPhase = 'live' | 'final'

const ORDER: readonly ThresholdKey[] = ['p99Ms', 'p999Ms', 'errorRate', 'minRps']

/**
 * Checks a stage's figures against its thresholds. minRps waits for the stage's end: a ramp starts below it
 * by design, and the first second of any stage includes connection setup.
 */
export function evaluateThresholds (stage: string, thresholds: Thresholds, figures: StageFigures, phase: ThresholdPhase): ThresholdResult[] {
  const results: ThresholdResult[] = []
  for (const key of ORDER) {
    const limit = thresholds[key]
    if (limit === undefined) continue
    if (key === 'minRps' && phase === 'live') continue
    const value = valueOf(key, figures)
    results.push({ name: `${stage}.${key}`, stage, key, limit, value, ok: key === 'minRps' ? value >= limit : value <= limit })
  }
  return results
}

function valueOf (key: ThresholdKey, figures: StageFigures): number {
  switch (key) {
    case 'p99Ms': return figures.p99Ms
    case 'p999Ms': return figures.p999Ms
    case 'errorRate': return figures.errorRate
    case 'minRps': return figures.rps
  }
}

export function firstBreach (results: readonly ThresholdResult[]): ThresholdResult | undefined {
  return results.find((r) => !r.ok)
}

/** `spike.p99Ms 812.5 > 500`: a threshold's value against its limit, for the abort reason and the summary. */
export function describeThreshold (r: ThresholdResult): string {
  return `${r.name} ${Math.round(r.value * 1000) / 1000} ${r.key === 'minRps' ? '<' : '>'} ${r.limit}`
}
