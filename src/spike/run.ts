import type { EventEmitter } from 'node:events'
import autocannon from 'autocannon'
import { systemClock, type Clock } from '../core/clock.js'
import type { MetricsSource } from './metrics.js'
import { planSlices, planStages, type LoadKind, type PlannedStage, type Scenario, type ScenarioRequest, type Slice } from './scenario.js'
import {
  cacheObject, errorRate, Recorder, statusObject, summarizeLatency, type LatencySummary, type SecondBucket, type Tally
} from './stats.js'
import { describeThreshold, evaluateThresholds, firstBreach, type ThresholdResult } from './thresholds.js'

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
  /** autocannon runs the stage took: 1 for a flat stage, one per second of a ramp. */
  readonly slices: number
  readonly completed: boolean
  readonly requests: number
  readonly rps: number
  readonly latencyMs: LatencySummary
  readonly statuses: Record<string, number>
  readonly cache: Record<string, number>
  readonly errors: number
  readonly errorRate: number
  /** Requests the proxy sent to its origin during the stage (from its admin /metrics). */
  readonly originRequests?: number
}

export interface SecondReport {
  readonly t: number
  readonly stage: string
  readonly requests: number
  readonly errors: number
  readonly p50: number
  readonly p99: number
  readonly statuses: Record<string, number>
  readonly cache: Record<string, number>
  readonly originRequests?: number
}

export type AbortCause = 'interrupted' | 'threshold'

export interface SpikeResult {
  readonly ok: boolean
  readonly aborted?: AbortCause
  /** Human-readable reason for an abort, e.g. `spike.errorRate 0.5 > 0.01`. */
  readonly abortReason?: string
  readonly scenario?: string
  readonly target: string
  readonly startedAt: string
  readonly durationMs: number
  readonly stagesPlanned: number
  readonly stages: StageReport[]
  readonly thresholds: ThresholdResult[]
  readonly timeline: SecondReport[]
}

export interface Progress {
  readonly stage: string
  readonly stageIndex: number
  readonly stageCount: number
  readonly elapsedMs: number
  readonly plannedMs: number
  /** Responses in the last full second. */
  readonly rps: number
  readonly p99Ms: number
  readonly errors: number
  readonly cache: Record<string, number>
}

export interface RunOptions {
  readonly target: string
  readonly scenario: Scenario
  readonly signal?: AbortSignal
  readonly metrics?: MetricsSource
  readonly onProgress?: (progress: Progress) => void
  /** Called after each stage ends, e.g. to print its summary line. */
  readonly onStageEnd?: (stage: StageReport, thresholds: readonly ThresholdResult[]) => void
  readonly clock?: Clock
}

// autocannon only notices stop() on its sampling tick; 100 ms bounds how late an abort or a slice ends.
const SAMPLE_INTERVAL_MS = 100
// Live checks wait this long into a stage so one slow first response (connection setup, cold cache) is not a verdict.
const LIVE_CHECK_AFTER_MS = 500

/** Runs the scenario's stages back to back against `target` and returns what happened, aborted or not. */
export async function runSpike (opts: RunOptions): Promise<SpikeResult> {
  const clock = opts.clock ?? systemClock
  const stages = planStages(opts.scenario)
  // The origin count before any load. Each stage's count ends with one scrape that is also the next stage's start,
  // and no scrape (up to a second against a slow admin port) is ever inside a stage's measured time.
  let originMark = await opts.metrics?.originRequests()
  const startMs = clock.now()
  const recorder = new Recorder(startMs)
  const requests = makeRequestMix(opts.scenario.requests, opts.scenario.seed)
  const reports: StageReport[] = []
  const thresholds: ThresholdResult[] = []
  let aborted: AbortCause | undefined
  let abortReason: string | undefined
  let current: { stop: () => void } | undefined

  const abort = (cause: AbortCause, reason: string): void => {
    if (aborted !== undefined) return
    aborted = cause
    abortReason = reason
    current?.stop()
  }
  const onSignal = (): void => { abort('interrupted', 'interrupted') }
  if (opts.signal?.aborted === true) onSignal()
  opts.signal?.addEventListener('abort', onSignal)

  let stage: PlannedStage | undefined
  let stageIndex = 0
  let stageStartMs = startMs
  let stageTally: Tally | undefined
  let liveResults: ThresholdResult[] | undefined
  let lastOrigin = originMark
  let scraping = false
  let ticks = 0

  /** The second's origin requests, off the tick's path: the live check must not wait on a slow admin port. */
  const scrapeSecond = async (metrics: MetricsSource, finished: SecondBucket | undefined): Promise<void> => {
    scraping = true
    try {
      const origin = await metrics.originRequests()
      if (finished !== undefined && origin !== undefined && lastOrigin !== undefined) finished.originRequests = origin - lastOrigin
      lastOrigin = origin ?? lastOrigin
    } finally {
      scraping = false
    }
  }

  const tick = (): void => {
    ticks++
    const now = clock.now()
    const finished = recorder.seconds[ticks - 1]
    if (opts.metrics !== undefined) {
      // One scrape at a time. One still running spans more than its second: neither it nor this one gets a figure,
      // and the next figure counts from when it finished.
      if (scraping) lastOrigin = undefined
      else scrapeSecond(opts.metrics, finished).catch(() => {})
    }
    if (stage === undefined || stageTally === undefined) return
    const elapsedMs = now - stageStartMs
    if (elapsedMs >= LIVE_CHECK_AFTER_MS && liveResults === undefined) {
      const results = evaluateThresholds(stage.name, stage.thresholds, figuresOf(stageTally, elapsedMs), 'live')
      const breach = firstBreach(results)
      if (breach !== undefined) {
        liveResults = results
        abort('threshold', describeThreshold(breach))
      }
    }
    opts.onProgress?.({
      stage: stage.name,
      stageIndex,
      stageCount: stages.length,
      elapsedMs,
      plannedMs: stage.durationMs,
      rps: finished?.tally.responses ?? 0,
      p99Ms: Math.round(stageTally.latency.percentile(99) * 10) / 10,
      errors: stageTally.errors,
      cache: cacheObject(stageTally)
    })
  }
  // Aligned to the run's start so each tick closes exactly one per-second bucket.
  const ticker = setInterval(() => {
    try {
      tick()
    } catch {
      // A progress callback that throws must not end the run.
    }
  }, 1000)

  try {
    for (const [i, planned] of stages.entries()) {
      if (aborted !== undefined) break
      const originBefore = originMark
      stage = planned
      stageIndex = i
      liveResults = undefined
      stageTally = recorder.beginStage(planned.name)
      stageStartMs = clock.now()
      let slicesRun = 0
      for (const slice of planSlices(planned)) {
        if (aborted !== undefined) break
        slicesRun++
        await runSlice(opts.target, slice, requests, opts.scenario.timeoutSeconds, recorder, clock, (instance) => { current = instance })
        current = undefined
      }
      const durationMs = clock.now() - stageStartMs
      const completed = aborted === undefined
      // The load has ended: no live check or progress for this stage while its origin count is read.
      stage = undefined
      const originAfter = await opts.metrics?.originRequests()
      originMark = originAfter
      const report = makeStageReport(planned, stageTally, durationMs, slicesRun, completed,
        originBefore !== undefined && originAfter !== undefined ? originAfter - originBefore : undefined)
      // A live breach keeps the figures it was decided on; the responses that trickle in while autocannon
      // stops could move a value back under its limit and contradict the abort.
      const results = liveResults ?? evaluateThresholds(planned.name, planned.thresholds, figuresOf(stageTally, durationMs), completed ? 'final' : 'live')
      reports.push(report)
      thresholds.push(...results)
      opts.onStageEnd?.(report, results)
      const breach = firstBreach(results)
      if (breach !== undefined) abort('threshold', describeThreshold(breach))
    }
  } finally {
    clearInterval(ticker)
    opts.signal?.removeEventListener('abort', onSignal)
  }

  return {
    ok: aborted === undefined && thresholds.every((t) => t.ok),
    ...(aborted === undefined ? {} : { aborted }),
    ...(abortReason === undefined ? {} : { abortReason }),
    ...(opts.scenario.name === undefined ? {} : { scenario: opts.scenario.name }),
    target: opts.target,
    startedAt: new Date(startMs).toISOString(),
    durationMs: clock.now() - startMs,
    stagesPlanned: stages.length,
    stages: reports,
    thresholds,
    timeline: recorder.seconds.map(toSecondReport)
  }
}

function figuresOf (tally: Tally, elapsedMs: number) {
  return {
    rps: elapsedMs > 0 ? tally.responses / (elapsedMs / 1000) : 0,
    p99Ms: tally.latency.percentile(99),
    p999Ms: tally.latency.percentile(99.9),
    errorRate: errorRate(tally)
  }
}

function makeStageReport (stage: PlannedStage, tally: Tally, durationMs: number, slices: number, completed: boolean, originRequests: number | undefined): StageReport {
  return {
    name: stage.name,
    kind: stage.kind,
    // A rate stage never opens more sockets than its rate (planSlices, and autocannon itself, cap them there).
    connections: stage.kind === 'rate' ? Math.max(...planSlices(stage).map((s) => s.connections)) : stage.level,
    ...(stage.kind === 'rate' ? { rate: stage.level } : {}),
    ramp: stage.ramp,
    plannedDurationMs: stage.durationMs,
    durationMs,
    slices,
    completed,
    requests: tally.responses,
    rps: durationMs > 0 ? Math.round(tally.responses / (durationMs / 1000) * 10) / 10 : 0,
    latencyMs: summarizeLatency(tally.latency),
    statuses: statusObject(tally),
    cache: cacheObject(tally),
    errors: tally.errors,
    errorRate: Math.round(errorRate(tally) * 10000) / 10000,
    ...(originRequests === undefined ? {} : { originRequests })
  }
}

function toSecondReport (b: SecondBucket): SecondReport {
  const latency = summarizeLatency(b.tally.latency)
  return {
    t: b.t,
    stage: b.stage,
    requests: b.tally.responses,
    errors: b.tally.errors,
    p50: latency.p50,
    p99: latency.p99,
    statuses: statusObject(b.tally),
    cache: cacheObject(b.tally),
    ...(b.originRequests === undefined ? {} : { originRequests: b.originRequests })
  }
}

interface WireRequest {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body?: string
}

/** Seeded PRNG (mulberry32): the same seed sends the same sequence of pages. */
export function makePrng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A picker that returns requests with probability weight / total weight, from a seeded PRNG. */
export function makePicker (requests: readonly ScenarioRequest[], seed: number): () => WireRequest {
  const wire: WireRequest[] = requests.map((r) => ({
    method: r.method,
    path: r.path,
    headers: { ...r.headers },
    ...(r.body === undefined ? {} : { body: r.body })
  }))
  const cumulative: number[] = []
  let total = 0
  for (const r of requests) cumulative.push(total += r.weight)
  const random = makePrng(seed)
  return () => {
    const x = random() * total
    let lo = 0
    let hi = cumulative.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cumulative[mid] ?? total) > x) hi = mid
      else lo = mid + 1
    }
    return wire[lo] ?? wire[0] as WireRequest
  }
}

type AutocannonRequest = NonNullable<autocannon.Options['requests']>[number]

function makeRequestMix (requests: readonly ScenarioRequest[], seed: number): AutocannonRequest[] {
  const pick = makePicker(requests, seed)
  // One entry whose setupRequest picks anew each time: autocannon otherwise walks a list in the same order
  // on every connection, so every connection would ask for the same page at the same moment.
  return [{
    setupRequest: (req) => {
      const next = pick()
      return { ...req, method: next.method as autocannon.Request['method'], path: next.path, headers: { ...req.headers, ...next.headers }, ...(next.body === undefined ? {} : { body: next.body }) }
    }
  }]
}

interface ParsedHeaders { readonly headers?: unknown }

function findXCache (info: ParsedHeaders): string | undefined {
  const raw = info.headers
  if (!Array.isArray(raw)) return undefined
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (String(raw[i]).toLowerCase() === 'x-cache') return String(raw[i + 1])
  }
  return undefined
}

function runSlice (
  target: string, slice: Slice, requests: AutocannonRequest[], timeoutSeconds: number, recorder: Recorder, clock: Clock,
  onStart: (instance: { stop: () => void }) => void
): Promise<void> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url: target,
      connections: slice.connections,
      duration: slice.durationMs / 1000,
      sampleInt: SAMPLE_INTERVAL_MS,
      timeout: timeoutSeconds,
      requests,
      ...(slice.rate === undefined ? {} : { overallRate: slice.rate }),
      skipAggregateResult: true,
      setupClient: (client: EventEmitter) => {
        // Pipelining is 1, so the headers seen last on a connection belong to the response that completes next.
        let xCache: string | undefined
        client.on('headers', (info: ParsedHeaders) => { xCache = findXCache(info) })
        client.on('response', (status: number, _bytes: number, latencyMs: number) => {
          recorder.response(clock.now(), status, latencyMs, xCache)
        })
      }
    } as autocannon.Options, (err: unknown) => {
      if (err === null || err === undefined) resolve()
      else reject(err instanceof Error ? err : new Error(String(err)))
    })
    instance.on('reqError', () => { recorder.error(clock.now()) })
    onStart(instance)
  })
}
