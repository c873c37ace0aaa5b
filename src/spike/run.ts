import { systemClock, type Clock } from '../core/clock.js'
import { makeInProcessEngine, type LoadEngine, type LoadSink } from './load.js'
import type { MetricsSource } from './metrics.js'
import { makeMix } from './mix.js'
import { makePathReports, mergePaths, toSecondReport, type AbortCause, type SpikeResult, type StageReport } from './result.js'
import { planStages, type Scenario } from './scenario.js'
import { runStage, type Progress } from './stage.js'
import { Recorder, type Tally } from './stats.js'
import { describeThreshold, firstBreach, type ThresholdResult } from './thresholds.js'
import { makeVerdict } from './verdict.js'
import { startWorkerEngine } from './workers.js'

export type { Progress } from './stage.js'
export type { AbortCause, PathReport, SecondReport, SpikeResult, StageReport } from './result.js'

export interface RunOptions {
  readonly target: string
  readonly scenario: Scenario
  readonly signal?: AbortSignal
  /** Origin counts, from one corral's admin /metrics or a fleet's summed (makeFleetMetrics). */
  readonly metrics?: MetricsSource
  /** Load threads; 1 (the default) runs autocannon on this thread. */
  readonly workers?: number
  readonly onProgress?: (progress: Progress) => void
  /** Called after each stage ends, e.g. to print its summary line. */
  readonly onStageEnd?: (stage: StageReport, thresholds: readonly ThresholdResult[]) => void
  readonly clock?: Clock
}

/** Runs the scenario's stages back to back against `target` and returns what happened, aborted or not. */
export async function runSpike (opts: RunOptions): Promise<SpikeResult> {
  const clock = opts.clock ?? systemClock
  const stages = planStages(opts.scenario)
  const mix = makeMix(opts.scenario.requests)
  const workers = Math.max(1, opts.workers ?? 1)
  // The origin count before any load. Each stage's count ends with one scrape that is also the next stage's start,
  // and no scrape (up to a second against a slow admin port) is ever inside a stage's measured time.
  let originMark = await opts.metrics?.originRequests()
  const startMs = clock.now()
  const recorder = new Recorder(startMs)
  const sink: LoadSink = {
    response: (label, status, latencyMs, xCache) => { recorder.response(clock.now(), label, status, latencyMs, xCache) },
    error: (label) => { recorder.error(clock.now(), label) }
  }
  const settings = { target: opts.target, mix, seed: opts.scenario.seed, timeoutSeconds: opts.scenario.timeoutSeconds }
  const engine: LoadEngine = workers > 1 ? await startWorkerEngine(settings, workers, sink) : makeInProcessEngine(settings, sink)
  const reports: StageReport[] = []
  const stagePaths: Array<Map<number, Tally>> = []
  const thresholds: ThresholdResult[] = []
  const graceBreaches: ThresholdResult[] = []
  let aborted: AbortCause | undefined
  let abortReason: string | undefined
  let stop: (() => void) | undefined

  const abort = (cause: AbortCause, reason: string): void => {
    if (aborted !== undefined) return
    aborted = cause
    abortReason = reason
    stop?.()
  }
  const onSignal = (): void => { abort('interrupted', 'interrupted') }
  if (opts.signal?.aborted === true) onSignal()
  opts.signal?.addEventListener('abort', onSignal)

  try {
    for (const [i, planned] of stages.entries()) {
      if (aborted !== undefined) break
      const { report, results, graced, originEnd } = await runStage({
        clock,
        runStartMs: startMs,
        recorder,
        engine,
        labels: mix.labels,
        ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }),
        stageCount: stages.length,
        ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }),
        abort: (reason) => { abort('threshold', reason) },
        aborted: () => aborted !== undefined,
        setStop: (s) => { stop = s }
      }, planned, i, originMark)
      originMark = originEnd
      stagePaths.push(recorder.stagePaths())
      reports.push(report)
      thresholds.push(...results)
      graceBreaches.push(...graced)
      opts.onStageEnd?.(report, results)
      const breach = firstBreach(results)
      if (breach !== undefined) abort('threshold', describeThreshold(breach))
    }
  } finally {
    opts.signal?.removeEventListener('abort', onSignal)
    await engine.close()
  }

  const ok = aborted === undefined && thresholds.every((t) => t.ok)
  const paths = makePathReports(mergePaths(stagePaths), mix.labels)
  return {
    ok,
    ...(aborted === undefined ? {} : { aborted }),
    ...(abortReason === undefined ? {} : { abortReason }),
    ...(opts.scenario.name === undefined ? {} : { scenario: opts.scenario.name }),
    target: opts.target,
    startedAt: new Date(startMs).toISOString(),
    durationMs: clock.now() - startMs,
    workers,
    generatorSaturated: reports.some((s) => s.generator.saturated),
    stagesPlanned: stages.length,
    stages: reports,
    thresholds,
    graceBreaches,
    verdict: makeVerdict(ok, thresholds, graceBreaches, reports, paths),
    paths,
    timeline: recorder.seconds.map(toSecondReport)
  }
}
