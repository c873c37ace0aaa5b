/** Counting what a spike run saw: per stage and per second. Pure: every time is passed in. */

export const CACHE_STATUSES = ['HIT', 'STALE', 'MISS', 'PASS', 'SHED'] as const
/** Cache column for a response without an X-Cache header (e.g. straight at the origin). */
const NO_CACHE_HEADER = 'NONE'

// Buckets 1% apart: percentiles within ±0.5% of the exact value, and a few hundred buckets per decade
// whatever the number of samples (a full sample array would cost ~8 bytes per request).
const LOG_STEP = Math.log(1.01)
const MIN_MS = 0.001

export class LatencyHistogram {
  private readonly buckets = new Map<number, number>()
  count = 0
  max = 0

  record (ms: number): void {
    const key = Math.round(Math.log(Math.max(ms, MIN_MS)) / LOG_STEP)
    this.buckets.set(key, (this.buckets.get(key) ?? 0) + 1)
    this.count++
    if (ms > this.max) this.max = ms
  }

  merge (other: LatencyHistogram): void {
    for (const [key, n] of other.buckets) this.buckets.set(key, (this.buckets.get(key) ?? 0) + n)
    this.count += other.count
    if (other.max > this.max) this.max = other.max
  }

  /** Value at percentile `p` (0–100), nearest-rank; 0 when empty. */
  percentile (p: number): number {
    if (this.count === 0) return 0
    const rank = Math.max(1, Math.ceil(this.count * p / 100))
    if (rank >= this.count) return this.max
    const keys = [...this.buckets.keys()].sort((a, b) => a - b)
    let seen = 0
    for (const key of keys) {
      seen += this.buckets.get(key) ?? 0
      if (seen >= rank) return Math.min(Math.exp(key * LOG_STEP), this.max)
    }
    return this.max
  }
}

export interface LatencySummary {
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly p999: number
  readonly max: number
}

export function summarizeLatency (h: LatencyHistogram): LatencySummary {
  const round = (ms: number): number => Math.round(ms * 100) / 100
  return {
    p50: round(h.percentile(50)),
    p90: round(h.percentile(90)),
    p99: round(h.percentile(99)),
    p999: round(h.percentile(99.9)),
    max: round(h.max)
  }
}

/** Everything counted over one window (a stage, a second). */
export interface Tally {
  /** Responses received, whatever their status. */
  responses: number
  /** Connection errors and timeouts: requests that got no response. */
  errors: number
  readonly statuses: Map<string, number>
  readonly cache: Map<string, number>
  readonly latency: LatencyHistogram
}

export function makeTally (): Tally {
  return { responses: 0, errors: 0, statuses: new Map(), cache: new Map(), latency: new LatencyHistogram() }
}

function bump (map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n)
}

export function recordResponse (t: Tally, status: number, latencyMs: number, xCache: string | undefined): void {
  t.responses++
  bump(t.statuses, String(status))
  bump(t.cache, xCache === undefined || xCache === '' ? NO_CACHE_HEADER : xCache.toUpperCase())
  t.latency.record(latencyMs)
}

export function mergeTally (into: Tally, from: Tally): void {
  into.responses += from.responses
  into.errors += from.errors
  for (const [k, n] of from.statuses) bump(into.statuses, k, n)
  for (const [k, n] of from.cache) bump(into.cache, k, n)
  into.latency.merge(from.latency)
}

export function count5xx (t: Tally): number {
  let n = 0
  for (const [status, count] of t.statuses) if (status.startsWith('5')) n += count
  return n
}

/**
 * (connection errors + timeouts + 5xx) / (responses + connection errors + timeouts). The denominator
 * includes the failed attempts so a target that refuses every connection has a rate of 1, not a division by 0.
 */
export function errorRate (t: Tally): number {
  const attempts = t.responses + t.errors
  return attempts === 0 ? 0 : (t.errors + count5xx(t)) / attempts
}

/** Status counts as a plain object, in numeric order. */
export function statusObject (t: Tally): Record<string, number> {
  return Object.fromEntries([...t.statuses].sort(([a], [b]) => Number(a) - Number(b)))
}

/** X-Cache counts: the five contract values always present, then any other value seen. */
export function cacheObject (t: Tally): Record<string, number> {
  const out: Record<string, number> = {}
  for (const s of CACHE_STATUSES) out[s] = t.cache.get(s) ?? 0
  for (const [k, n] of t.cache) if (!(k in out)) out[k] = n
  return out
}

/** (HIT + STALE) / responses, the share the cache answered without the origin; undefined before any response. */
export function hitRatio (t: Tally): number | undefined {
  if (t.responses === 0) return undefined
  return ((t.cache.get('HIT') ?? 0) + (t.cache.get('STALE') ?? 0)) / t.responses
}

/** One second of a stage, for the charts. */
export interface SecondBucket {
  /** Seconds since the run started, at this second's start (not a whole number: stages start when they start). */
  readonly t: number
  readonly stage: string
  /** Seconds since its stage started: 0 for the stage's first second. */
  readonly second: number
  readonly tally: Tally
  /** Origin requests counted by the proxy in this second (by reason), when its /metrics was reachable. */
  origin?: { total: number, byReason: Record<string, number> }
  /** Event-loop utilisation (0–1) of the busiest load-generating thread in this second. */
  generatorBusy?: number
}

/** What one stage has counted: the whole stage, and the stage by path label. */
export interface StageTally {
  readonly tally: Tally
  readonly paths: Map<number, Tally>
}

/**
 * Per-stage, per-path and per-second tallies of one run. Seconds are counted from each stage's start, so a
 * second never mixes two stages and a chart's stage marker sits where the stage began.
 */
export class Recorder {
  readonly seconds: SecondBucket[] = []
  private current: StageTally = { tally: makeTally(), paths: new Map() }
  private stageName = ''
  private stageStartMs: number
  private stageFirst = 0

  constructor (private readonly runStartMs: number) {
    this.stageStartMs = runStartMs
  }

  beginStage (name: string, nowMs: number): StageTally {
    this.stageName = name
    this.stageStartMs = nowMs
    this.stageFirst = this.seconds.length
    this.current = { tally: makeTally(), paths: new Map() }
    return this.current
  }

  response (nowMs: number, label: number, status: number, latencyMs: number, xCache: string | undefined): void {
    recordResponse(this.current.tally, status, latencyMs, xCache)
    recordResponse(this.pathTally(label), status, latencyMs, xCache)
    recordResponse(this.bucket(nowMs).tally, status, latencyMs, xCache)
  }

  error (nowMs: number, label: number | undefined): void {
    this.current.tally.errors++
    if (label !== undefined) this.pathTally(label).errors++
    this.bucket(nowMs).tally.errors++
  }

  /** The current stage's per-path tallies. */
  stagePaths (): Map<number, Tally> {
    return this.current.paths
  }

  private pathTally (label: number): Tally {
    let t = this.current.paths.get(label)
    if (t === undefined) {
      t = makeTally()
      this.current.paths.set(label, t)
    }
    return t
  }

  /** The current stage's bucket for `nowMs`, creating the seconds up to it. */
  bucket (nowMs: number): SecondBucket {
    const second = Math.max(0, Math.floor((nowMs - this.stageStartMs) / 1000))
    const offset = (this.stageStartMs - this.runStartMs) / 1000
    for (let k = this.seconds.length - this.stageFirst; k <= second; k++) {
      this.seconds.push({ t: Math.round((offset + k) * 1000) / 1000, stage: this.stageName, second: k, tally: makeTally() })
    }
    const bucket = this.seconds[this.stageFirst + second]
    if (bucket === undefined) throw new Error('unreachable: bucket was just created')
    return bucket
  }
}
