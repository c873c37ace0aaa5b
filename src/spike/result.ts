/** The shape of report.json, and the pure functions that turn a run's tallies into it. */
import type { OriginCounts } from './metrics.js'
import type { LoadKind, PlannedStage } from './scenario.js'
import { planSlices } from './scenario.js'
import {
  cacheObject, errorRate, hitRatio, makeTally, mergeTally, statusObject, summarizeLatency,
  type LatencySummary, type SecondBucket, type StageTally, type Tally
} from './stats.js'
import type { ThresholdResult } from './thresholds.js'

/** One row of the per-path breakdown: the path as written in the scenario (a template stays a template). */
export interface PathReport {
  readonly path: string
  readonly requests: number
  readonly statuses: Record<string, number>
  readonly cache: Record<string, number>
  readonly p99Ms: number
  readonly errors: number
  /** (errors + 5xx) / attempts, as the errorRate threshold counts it. */
  readonly errorRate: number
}

/** How hard the load generator itself worked: when it is saturated, the figures are its limit, not the proxy's. */
export interface GeneratorReport {
  /** Mean event-loop utilisation (0–1) of the busiest load thread over the stage's seconds. */
  readonly busy: number
  /** Seconds in which the busiest load thread was at least SATURATED_BUSY busy. */
  readonly saturatedSeconds: number
  readonly saturated: boolean
  /** CPU the harness process used, in cores (1 = one core for the whole stage). */
  readonly cpuCores: number
}

export interface StageReport {
  readonly name: string
  readonly kind: LoadKind
  /** Connections held (connections stage), or the most a rate stage used. */
  readonly connections: number
  /** Target requests/s of a rate stage. */
  readonly rate?: number
  readonly ramp: boolean
  readonly plannedDurationMs: number
  readonly durationMs: number
  /** Seconds since the run started when the stage began (where its chart marker sits). */
  readonly startT: number
  /** autocannon runs the stage took: 1 for a flat stage, one per second of a ramp. */
  readonly slices: number
  readonly completed: boolean
  readonly requests: number
  readonly rps: number
  readonly latencyMs: LatencySummary
  readonly statuses: Record<string, number>
  readonly cache: Record<string, number>
  /** (HIT + STALE) / responses. */
  readonly hitRatio: number
  readonly errors: number
  readonly errorRate: number
  /** Requests the proxy (or fleet) sent to its origin during the stage, from its admin /metrics. */
  readonly originRequests?: number
  readonly originRps?: number
  readonly originByReason?: Record<string, number>
  readonly generator: GeneratorReport
  readonly paths: PathReport[]
}

export interface SecondReport {
  /** Seconds since the run started at this second's start. */
  readonly t: number
  readonly stage: string
  /** Seconds into its stage. */
  readonly second: number
  readonly requests: number
  readonly errors: number
  readonly p50: number
  readonly p99: number
  readonly statuses: Record<string, number>
  readonly cache: Record<string, number>
  readonly originRequests?: number
  readonly originByReason?: Record<string, number>
  readonly generatorBusy?: number
}

export type AbortCause = 'interrupted' | 'threshold'

export interface Verdict {
  readonly ok: boolean
  /** One line per failed threshold, with stage and second, e.g. `spike.maxOriginRps 412 > 50 (second 3 of spike)`. */
  readonly failed: string[]
  /** Breaches inside abortGrace that did not abort; the stage's final figure decided. */
  readonly graced: string[]
  readonly worstPaths: Array<{ readonly path: string, readonly why: string }>
  /** Stages in which the load generator was saturated. */
  readonly saturatedStages: string[]
  /** One line per saturated stage: how busy, how much CPU, and what that suggests. */
  readonly saturation: string[]
}

export interface SpikeResult {
  readonly ok: boolean
  readonly aborted?: AbortCause
  /** Human-readable reason for an abort, e.g. `spike.errorRate 0.5 > 0.01 (second 1 of spike)`. */
  readonly abortReason?: string
  readonly scenario?: string
  readonly target: string
  readonly startedAt: string
  readonly durationMs: number
  readonly workers: number
  /** The load generator was saturated in at least one stage. */
  readonly generatorSaturated: boolean
  readonly stagesPlanned: number
  readonly stages: StageReport[]
  readonly thresholds: ThresholdResult[]
  /** Live breaches inside a stage's abortGrace, reported without aborting. */
  readonly graceBreaches: ThresholdResult[]
  readonly verdict: Verdict
  /** Every stage's per-path rows merged. */
  readonly paths: PathReport[]
  readonly timeline: SecondReport[]
}

// A load thread whose event loop is busy 90% of a second has no slack left to send on time: past this, latency
// and rps measure the harness.
const SATURATED_BUSY = 0.9

const round = (n: number, places: number): number => Math.round(n * 10 ** places) / 10 ** places

export function makePathReports (paths: ReadonlyMap<number, Tally>, labels: readonly string[]): PathReport[] {
  return [...paths].map(([label, t]) => ({
    path: labels[label] ?? `#${label}`,
    requests: t.responses,
    statuses: statusObject(t),
    cache: cacheObject(t),
    p99Ms: round(t.latency.percentile(99), 2),
    errors: t.errors,
    errorRate: round(errorRate(t), 4)
  })).sort((a, b) => b.requests - a.requests)
}

/** Per-path tallies of several stages merged into one map. */
export function mergePaths (stages: ReadonlyArray<ReadonlyMap<number, Tally>>): Map<number, Tally> {
  const out = new Map<number, Tally>()
  for (const paths of stages) {
    for (const [label, t] of paths) {
      let into = out.get(label)
      if (into === undefined) out.set(label, into = makeTally())
      mergeTally(into, t)
    }
  }
  return out
}

export function makeGeneratorReport (seconds: readonly SecondBucket[], cpuMicros: number, durationMs: number): GeneratorReport {
  const busy = seconds.map((s) => s.generatorBusy).filter((b): b is number => b !== undefined)
  const saturatedSeconds = busy.filter((b) => b >= SATURATED_BUSY).length
  const mean = busy.length === 0 ? 0 : busy.reduce((a, b) => a + b, 0) / busy.length
  return {
    busy: round(mean, 3),
    saturatedSeconds,
    // Half its seconds: one busy second (connection setup, a GC) is not a saturated stage.
    saturated: busy.length > 0 && saturatedSeconds * 2 >= busy.length,
    cpuCores: durationMs > 0 ? round(cpuMicros / 1000 / durationMs, 3) : 0
  }
}

export interface StageOutcome {
  readonly stage: PlannedStage
  readonly tally: StageTally
  readonly labels: readonly string[]
  readonly durationMs: number
  readonly startT: number
  readonly slices: number
  readonly completed: boolean
  readonly origin?: OriginCounts
  readonly generator: GeneratorReport
}

export function makeStageReport (o: StageOutcome): StageReport {
  const { stage, tally: { tally }, durationMs } = o
  const seconds = durationMs / 1000
  return {
    name: stage.name,
    kind: stage.kind,
    // A rate stage never opens more sockets than its rate (planSlices, and autocannon itself, cap them there).
    connections: stage.kind === 'rate' ? Math.max(...planSlices(stage).map((s) => s.connections)) : stage.level,
    ...(stage.kind === 'rate' ? { rate: stage.level } : {}),
    ramp: stage.ramp,
    plannedDurationMs: stage.durationMs,
    durationMs,
    startT: o.startT,
    slices: o.slices,
    completed: o.completed,
    requests: tally.responses,
    rps: seconds > 0 ? round(tally.responses / seconds, 1) : 0,
    latencyMs: summarizeLatency(tally.latency),
    statuses: statusObject(tally),
    cache: cacheObject(tally),
    hitRatio: round(hitRatio(tally) ?? 0, 4),
    errors: tally.errors,
    errorRate: round(errorRate(tally), 4),
    ...(o.origin === undefined
      ? {}
      : { originRequests: o.origin.total, originRps: seconds > 0 ? round(o.origin.total / seconds, 2) : 0, originByReason: { ...o.origin.byReason } }),
    generator: o.generator,
    paths: makePathReports(o.tally.paths, o.labels)
  }
}

export function toSecondReport (b: SecondBucket): SecondReport {
  const latency = summarizeLatency(b.tally.latency)
  return {
    t: b.t,
    stage: b.stage,
    second: b.second,
    requests: b.tally.responses,
    errors: b.tally.errors,
    p50: latency.p50,
    p99: latency.p99,
    statuses: statusObject(b.tally),
    cache: cacheObject(b.tally),
    ...(b.origin === undefined ? {} : { originRequests: b.origin.total, originByReason: b.origin.byReason }),
    ...(b.generatorBusy === undefined ? {} : { generatorBusy: round(b.generatorBusy, 3) })
  }
}
