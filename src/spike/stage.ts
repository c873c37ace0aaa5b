/**
 * One stage of a run: its slices, a 1 s tick aligned to the stage's start (close a second, read the origin count,
 * check thresholds live), and its report. A breach inside abortGrace is noted, not aborted on.
 */
import type { Clock } from '../core/clock.js'
import type { LoadEngine } from './load.js'
import { subtractCounts, type MetricsSource, type OriginCounts } from './metrics.js'
import { makeGeneratorReport, makeStageReport, type StageReport } from './result.js'
import { planSlices, type PlannedStage } from './scenario.js'
import { cacheObject, count5xx, errorRate, hitRatio, type Recorder, type Tally } from './stats.js'
import { describeThreshold, evaluateThresholds, firstBreach, type StageFigures, type ThresholdKey, type ThresholdResult } from './thresholds.js'

export interface Progress {
  readonly stage: string
  readonly stageIndex: number
  readonly stageCount: number
  readonly elapsedMs: number
  readonly plannedMs: number
  /** Responses in the last full second. */
  readonly rps: number
  readonly p99Ms: number
  /** Requests without a response (connection errors, timeouts) so far in the stage. */
  readonly errors: number
  /** 5xx responses so far in the stage. */
  readonly fiveXx: number
  readonly cache: Record<string, number>
  /** Origin requests in the stage so far, when --admin answers. */
  readonly originRequests?: number
}

export interface StageContext {
  readonly clock: Clock
  readonly runStartMs: number
  readonly recorder: Recorder
  readonly engine: LoadEngine
  readonly labels: readonly string[]
  readonly metrics?: MetricsSource
  readonly stageCount: number
  readonly onProgress?: (progress: Progress) => void
  /** Aborts the run (stops the slice running now); true once aborted. */
  abort (reason: string): void
  aborted (): boolean
  setStop (stop: (() => void) | undefined): void
}

export interface StageResult {
  readonly report: StageReport
  readonly results: ThresholdResult[]
  readonly graced: ThresholdResult[]
  /** Origin counts when the stage ended: the next stage's start. */
  readonly originEnd?: OriginCounts
}

function figuresOf (tally: Tally, elapsedMs: number, originRequests: number | undefined): StageFigures {
  const seconds = elapsedMs / 1000
  const ratio = hitRatio(tally)
  return {
    rps: seconds > 0 ? tally.responses / seconds : 0,
    p99Ms: tally.latency.percentile(99),
    p999Ms: tally.latency.percentile(99.9),
    errorRate: errorRate(tally),
    ...(ratio === undefined ? {} : { hitRatio: ratio }),
    ...(originRequests === undefined ? {} : { originRequests, originRps: seconds > 0 ? originRequests / seconds : 0 })
  }
}

const TICK_MS = 1000

export async function runStage (ctx: StageContext, stage: PlannedStage, index: number, originStart: OriginCounts | undefined): Promise<StageResult> {
  const { clock, recorder, engine } = ctx
  const startMs = clock.now()
  const startT = Math.round((startMs - ctx.runStartMs)) / 1000
  const st = recorder.beginStage(stage.name, startMs)
  const cpuStart = process.cpuUsage()
  engine.busy()
  const breachedAt = new Map<ThresholdKey, { stageSecond: number, t: number }>()
  const graced: ThresholdResult[] = []
  let liveResults: ThresholdResult[] | undefined
  let lastCounts = originStart
  let liveOrigin = originStart === undefined ? undefined : 0
  let scraping: Promise<void> | undefined
  let ticks = 0

  const mark = (r: ThresholdResult): ThresholdResult => {
    const at = breachedAt.get(r.key)
    return r.ok || at === undefined ? r : { ...r, ...at }
  }
  const scrape = async (metrics: MetricsSource, second: number): Promise<void> => {
    try {
      const counts = await metrics.originRequests()
      const bucket = recorder.seconds.find((b) => b.stage === stage.name && b.second === second)
      if (counts !== undefined && lastCounts !== undefined && bucket !== undefined) bucket.origin = subtractCounts(counts, lastCounts)
      lastCounts = counts
      if (counts !== undefined && originStart !== undefined) liveOrigin = counts.total - originStart.total
    } finally {
      scraping = undefined
    }
  }
  const tick = (): void => {
    ticks++
    const now = clock.now()
    const bucket = recorder.bucket(startMs + (ticks - 1) * TICK_MS)
    bucket.generatorBusy = engine.busy()
    if (ctx.metrics !== undefined) {
      // One scrape at a time. One still running spans more than its second: neither it nor this one gets a
      // figure, and the next figure counts from when it finished.
      if (scraping !== undefined) lastCounts = undefined
      else scraping = scrape(ctx.metrics, bucket.second).catch(() => {})
    }
    const elapsedMs = now - startMs
    if (liveResults === undefined) {
      const results = evaluateThresholds(stage.name, stage.thresholds, figuresOf(st.tally, elapsedMs, liveOrigin), 'live')
      const t = Math.round((startT + ticks) * 1000) / 1000
      // By the tick's second, not the clock: the check at second 1 of a "1s" grace is inside it, whatever the
      // timer's few ms of lateness.
      const inGrace = ticks * TICK_MS <= stage.abortGraceMs
      for (const r of results) {
        if (r.ok || breachedAt.has(r.key)) continue
        breachedAt.set(r.key, { stageSecond: ticks, t })
        if (inGrace) graced.push(mark(r))
      }
      const breach = firstBreach(results)
      if (breach !== undefined && !inGrace) {
        liveResults = results.map(mark)
        ctx.abort(describeThreshold(mark(breach)))
      }
    }
    ctx.onProgress?.({
      stage: stage.name,
      stageIndex: index,
      stageCount: ctx.stageCount,
      elapsedMs,
      plannedMs: stage.durationMs,
      rps: bucket.tally.responses,
      p99Ms: Math.round(st.tally.latency.percentile(99) * 10) / 10,
      errors: st.tally.errors,
      fiveXx: count5xx(st.tally),
      cache: cacheObject(st.tally),
      ...(liveOrigin === undefined ? {} : { originRequests: liveOrigin })
    })
  }
  const ticker = setInterval(() => {
    try {
      tick()
    } catch {
      // A progress callback that throws must not end the run.
    }
  }, TICK_MS)

  let slices = 0
  try {
    for (const slice of planSlices(stage)) {
      if (ctx.aborted()) break
      slices++
      await engine.runSlice(slice, (stop) => { ctx.setStop(stop) })
      ctx.setStop(undefined)
    }
  } finally {
    clearInterval(ticker)
  }
  const durationMs = clock.now() - startMs
  const completed = !ctx.aborted()
  // The load has ended. A scrape still running belongs to the last full second: let it land (makeAdminMetrics
  // gives up after 1 s) so the partial second after it gets only its own origin requests.
  await scraping
  const lastBucket = recorder.bucket(startMs + Math.max(0, durationMs - 1))
  lastBucket.generatorBusy ??= engine.busy()
  const originEnd = await ctx.metrics?.originRequests()
  // The last (partial) second gets what the per-second scrapes have not yet counted.
  if (originEnd !== undefined && lastCounts !== undefined && lastBucket.origin === undefined) lastBucket.origin = subtractCounts(originEnd, lastCounts)
  const origin = originEnd !== undefined && originStart !== undefined ? subtractCounts(originEnd, originStart) : undefined
  const cpu = process.cpuUsage(cpuStart)
  const report = makeStageReport({
    stage,
    tally: st,
    labels: ctx.labels,
    durationMs,
    startT,
    slices,
    completed,
    ...(origin === undefined ? {} : { origin }),
    generator: makeGeneratorReport(recorder.seconds.filter((b) => b.stage === stage.name), cpu.user + cpu.system, durationMs)
  })
  // A live breach keeps the figures it was decided on; the responses that trickle in while autocannon stops
  // could move a value back under its limit and contradict the abort.
  const endSecond = Math.max(1, Math.round(durationMs / 1000))
  const results = (liveResults ?? evaluateThresholds(stage.name, stage.thresholds, figuresOf(st.tally, durationMs, origin?.total), completed ? 'final' : 'live'))
    .map((r) => r.ok || r.stageSecond !== undefined ? r : { ...r, ...(breachedAt.get(r.key) ?? { stageSecond: endSecond, t: Math.round((startT + durationMs / 1000) * 1000) / 1000 }) })
  return { report, results, graced, ...(originEnd === undefined ? {} : { originEnd }) }
}
