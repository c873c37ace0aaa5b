import type { Scenario, Thresholds } from './scenario.js'

/** Every threshold key that is a limit (abortGrace is a setting of the check, not a limit). */
export type ThresholdKey = Exclude<keyof Thresholds, 'abortGrace'>

/** The figures of one stage (so far, or final) that thresholds are checked against. */
export interface StageFigures {
  readonly rps: number
  readonly p99Ms: number
  readonly p999Ms: number
  readonly errorRate: number
  /** (HIT + STALE) / responses; undefined before the first response. */
  readonly hitRatio?: number
  /** Origin requests in the stage so far, summed over every --admin; undefined when not (yet) known. */
  readonly originRequests?: number
  /** originRequests / the stage's seconds so far. */
  readonly originRps?: number
}

export interface ThresholdResult {
  /** `<stage>.<key>`, e.g. `spike.p99Ms`. */
  readonly name: string
  readonly stage: string
  readonly key: ThresholdKey
  readonly limit: number
  /** null when the figure could not be measured (an --admin that did not answer): the threshold fails. */
  readonly value: number | null
  readonly ok: boolean
  /** Where it first breached: seconds into the stage, and seconds since the run started (the charts' x axis). */
  readonly stageSecond?: number
  readonly t?: number
}

/** `live`: while the stage runs. `final`: when it ends. */
export type ThresholdPhase = 'live' | 'final'

const ORDER: readonly ThresholdKey[] = ['p99Ms', 'p999Ms', 'errorRate', 'minRps', 'maxOriginRps', 'maxOriginRequests', 'minHitRatio']

/** Keys whose figure comes from the proxy's /metrics, so a run that sets them needs --admin. */
const ADMIN_KEYS: readonly ThresholdKey[] = ['maxOriginRps', 'maxOriginRequests']

const LOWER_BOUNDS: ReadonlySet<ThresholdKey> = new Set(['minRps', 'minHitRatio'])

/**
 * Checks a stage's figures against its thresholds. minRps waits for the stage's end: a ramp starts below it
 * by design, and the first second of any stage includes connection setup. A live check skips a figure not yet
 * known (the first origin scrape is a second away); a final check fails it, since nothing proves it held.
 */
export function evaluateThresholds (stage: string, thresholds: Thresholds, figures: StageFigures, phase: ThresholdPhase): ThresholdResult[] {
  const results: ThresholdResult[] = []
  for (const key of ORDER) {
    const limit = thresholds[key]
    if (limit === undefined) continue
    if (key === 'minRps' && phase === 'live') continue
    const value = valueOf(key, figures)
    if (value === undefined && phase === 'live') continue
    const ok = value !== undefined && (LOWER_BOUNDS.has(key) ? value >= limit : value <= limit)
    results.push({ name: `${stage}.${key}`, stage, key, limit, value: value ?? null, ok })
  }
  return results
}

function valueOf (key: ThresholdKey, figures: StageFigures): number | undefined {
  switch (key) {
    case 'p99Ms': return figures.p99Ms
    case 'p999Ms': return figures.p999Ms
    case 'errorRate': return figures.errorRate
    case 'minRps': return figures.rps
    case 'maxOriginRps': return figures.originRps
    case 'maxOriginRequests': return figures.originRequests
    case 'minHitRatio': return figures.hitRatio
  }
}

export function firstBreach (results: readonly ThresholdResult[]): ThresholdResult | undefined {
  return results.find((r) => !r.ok)
}

/** Key paths of thresholds that need --admin, e.g. `stages[1].thresholds.maxOriginRps`: a usage error without one. */
export function thresholdsNeedingAdmin (scenario: Scenario): string[] {
  const found: string[] = []
  const scan = (t: Thresholds | undefined, at: string): void => {
    for (const key of ADMIN_KEYS) if (t?.[key] !== undefined) found.push(`${at}.${key}`)
  }
  scan(scenario.thresholds, 'thresholds')
  scenario.stages.forEach((s, i) => { scan(s.thresholds, `stages[${i}].thresholds`) })
  return found
}

/** `spike.p99Ms 812.5 > 500 (second 3)`: a threshold's value against its limit, for the abort reason and the verdict. */
export function describeThreshold (r: ThresholdResult): string {
  const where = r.stageSecond === undefined ? '' : ` (second ${r.stageSecond} of ${r.stage})`
  if (r.value === null) return `${r.name} not measured: no origin figure from --admin${where}`
  return `${r.name} ${Math.round(r.value * 1000) / 1000} ${LOWER_BOUNDS.has(r.key) ? '<' : '>'} ${r.limit}${where}`
}
