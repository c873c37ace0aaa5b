/**
 * `corral top`: what one frame shows, from two scrapes of a proxy's /metrics a second or so apart. Pure: Prometheus
 * text in, numbers out (ops/top.ts does the scraping and the printing).
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** The samples of a Prometheus text exposition (comments and blank lines skipped). */
export function parseMetrics (text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (m === null) continue
    const value = Number(m[3])
    if (Number.isNaN(value)) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, '$1')
    samples.push({ name: m[1] as string, labels, value })
  }
  return samples
}

/** One scrape boiled down to what a frame needs. */
export interface Snapshot {
  readonly at: number
  readonly requests: number
  /** Answers from cache: HIT, STALE, REVALIDATED. */
  readonly cached: number
  /** Answers that could have come from cache (everything but PASS). */
  readonly cacheable: number
  readonly originByReason: Readonly<Record<string, number>>
  /** corral_request_duration_seconds_bucket summed over cache labels, by le (seconds; Infinity last). */
  readonly latencyBuckets: ReadonlyArray<readonly [number, number]>
  readonly shedShare: number | undefined
  readonly shedFlag: number | undefined
  readonly memcached: ReadonlyArray<{ readonly server: string, readonly up: boolean }>
  readonly origins: ReadonlyArray<{ readonly origin: string, readonly server: string, readonly up: boolean }>
}

const CACHED = new Set(['HIT', 'STALE', 'REVALIDATED'])

export function snapshotOf (samples: readonly Sample[], at: number): Snapshot {
  let requests = 0
  let cached = 0
  let cacheable = 0
  const originByReason: Record<string, number> = {}
  const buckets = new Map<number, number>()
  let shedShare: number | undefined
  let shedFlag: number | undefined
  const memcached: Array<{ server: string, up: boolean }> = []
  const origins: Array<{ origin: string, server: string, up: boolean }> = []
  for (const s of samples) {
    switch (s.name) {
      case 'corral_requests_total':
        requests += s.value
        if (CACHED.has(s.labels.cache ?? '')) cached += s.value
        if (s.labels.cache !== 'PASS') cacheable += s.value
        break
      case 'corral_origin_requests_total': {
        const reason = s.labels.reason ?? ''
        originByReason[reason] = (originByReason[reason] ?? 0) + s.value
        break
      }
      case 'corral_request_duration_seconds_bucket': {
        const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)
        buckets.set(le, (buckets.get(le) ?? 0) + s.value)
        break
      }
      case 'corral_shed_share_percent':
        shedShare = s.value
        break
      case 'corral_flag':
        if (s.labels.name === 'shedPercent') shedFlag = s.value
        break
      case 'corral_memcached_up':
        memcached.push({ server: s.labels.server ?? '', up: s.value === 1 })
        break
      case 'corral_origin_up':
        origins.push({ origin: s.labels.origin ?? '', server: s.labels.server ?? '', up: s.value === 1 })
        break
    }
  }
  return { at, requests, cached, cacheable, originByReason, latencyBuckets: [...buckets].sort((a, b) => a[0] - b[0]), shedShare, shedFlag, memcached, origins }
}

/** What one proxy (or the fleet, summed) did between two snapshots. */
export interface Frame {
  readonly rps: number
  /** Share of cacheable answers served from cache, 0-1; undefined without any. */
  readonly hitRatio: number | undefined
  readonly originRps: Readonly<Record<string, number>>
  /** p99 of request duration in ms, from the histogram's buckets (its bucket's upper bound, as histogram_quantile). */
  readonly p99Ms: number | undefined
  readonly shedShare: number | undefined
  readonly shedFlag: number | undefined
  readonly memcachedUp: number
  readonly memcachedTotal: number
  readonly originsUp: number
  readonly originsTotal: number
}

export function frameOf (a: Snapshot, b: Snapshot): Frame {
  const seconds = Math.max(0.001, (b.at - a.at) / 1000)
  const cacheable = b.cacheable - a.cacheable
  const originRps: Record<string, number> = {}
  for (const [reason, n] of Object.entries(b.originByReason)) {
    const d = n - (a.originByReason[reason] ?? 0)
    if (d > 0) originRps[reason] = d / seconds
  }
  return {
    rps: (b.requests - a.requests) / seconds,
    hitRatio: cacheable > 0 ? (b.cached - a.cached) / cacheable : undefined,
    originRps,
    p99Ms: quantileMs(a.latencyBuckets, b.latencyBuckets, 0.99),
    shedShare: b.shedShare,
    shedFlag: b.shedFlag,
    memcachedUp: b.memcached.filter((n) => n.up).length,
    memcachedTotal: b.memcached.length,
    originsUp: b.origins.filter((o) => o.up).length,
    originsTotal: b.origins.length
  }
}

/** The upper bound of the bucket holding quantile q of the requests between the two snapshots. */
function quantileMs (a: Snapshot['latencyBuckets'], b: Snapshot['latencyBuckets'], q: number): number | undefined {
  const before = new Map(a)
  const deltas = b.map(([le, n]) => [le, n - (before.get(le) ?? 0)] as const)
  const total = deltas[deltas.length - 1]?.[1] ?? 0
  if (total <= 0) return undefined
  const rank = q * total
  for (const [le, n] of deltas) if (n >= rank) return le === Infinity ? Infinity : le * 1000
  return undefined
}

/** Frames of several proxies as one: rates summed, ratios weighted, p99 the worst, states counted over all. */
export function fleetFrame (frames: readonly Frame[]): Frame {
  const sum = (f: (x: Frame) => number): number => frames.reduce((n, x) => n + f(x), 0)
  const rps = sum((f) => f.rps)
  const weighted = frames.filter((f) => f.hitRatio !== undefined && f.rps > 0)
  const weight = weighted.reduce((n, f) => n + f.rps, 0)
  const originRps: Record<string, number> = {}
  for (const f of frames) for (const [r, n] of Object.entries(f.originRps)) originRps[r] = (originRps[r] ?? 0) + n
  const p99s = frames.map((f) => f.p99Ms).filter((p): p is number => p !== undefined)
  const shares = frames.map((f) => f.shedShare).filter((p): p is number => p !== undefined)
  return {
    rps,
    hitRatio: weight > 0 ? weighted.reduce((n, f) => n + (f.hitRatio as number) * f.rps, 0) / weight : undefined,
    originRps,
    p99Ms: p99s.length > 0 ? Math.max(...p99s) : undefined,
    shedShare: shares.length > 0 ? shares.reduce((a, b) => a + b, 0) / shares.length : undefined,
    shedFlag: frames.find((f) => f.shedFlag !== undefined)?.shedFlag,
    memcachedUp: sum((f) => f.memcachedUp),
    memcachedTotal: sum((f) => f.memcachedTotal),
    originsUp: sum((f) => f.originsUp),
    originsTotal: sum((f) => f.originsTotal)
  }
}
