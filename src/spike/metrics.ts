/** Reading the proxy's own count of origin requests from its admin /metrics (Prometheus text format). */

const ORIGIN_REQUESTS_METRIC = 'corral_origin_requests_total'

/**
 * Sum of every series of `name` whose labels contain `labelFilter` (e.g. `cache="HIT"`; '' for all label sets);
 * undefined when no series matches.
 */
export function sumMetric (text: string, name: string, labelFilter = ''): number | undefined {
  let sum: number | undefined
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    // Guards against a longer name sharing the prefix, e.g. corral_origin_requests_total_created.
    if (rest[0] !== '{' && rest[0] !== ' ' && rest[0] !== '\t') continue
    const labelsEnd = rest[0] === '{' ? rest.lastIndexOf('}') + 1 : 0
    if (labelFilter !== '' && !rest.slice(0, labelsEnd).includes(labelFilter)) continue
    const afterLabels = rest.slice(labelsEnd)
    const value = Number(afterLabels.trim().split(/\s+/)[0])
    if (Number.isFinite(value)) sum = (sum ?? 0) + value
  }
  return sum
}

/** Origin requests counted by the proxy (or a fleet, summed), in total and by the `reason` label (miss, refresh, pass…). */
export interface OriginCounts {
  readonly total: number
  readonly byReason: Readonly<Record<string, number>>
}

/** Each series of `name` by the value of its `label` (series without it count under ""). */
export function sumMetricBy (text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {}
  const labelRe = new RegExp(`(?:^|[{,])${label}="((?:[^"\\\\]|\\\\.)*)"`)
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    if (rest[0] !== '{' && rest[0] !== ' ' && rest[0] !== '\t') continue
    const labelsEnd = rest[0] === '{' ? rest.lastIndexOf('}') + 1 : 0
    const value = Number(rest.slice(labelsEnd).trim().split(/\s+/)[0])
    if (!Number.isFinite(value)) continue
    const key = labelRe.exec(rest.slice(0, labelsEnd))?.[1] ?? ''
    out[key] = (out[key] ?? 0) + value
  }
  return out
}

/** Counts a − b, reason by reason (a reason new in `a` counts from 0). */
export function subtractCounts (a: OriginCounts, b: OriginCounts): OriginCounts {
  const byReason: Record<string, number> = {}
  for (const [k, n] of Object.entries(a.byReason)) {
    const d = n - (b.byReason[k] ?? 0)
    if (d !== 0) byReason[k] = d
  }
  return { total: a.total - b.total, byReason }
}

function addCounts (a: OriginCounts, b: OriginCounts): OriginCounts {
  const byReason: Record<string, number> = { ...a.byReason }
  for (const [k, n] of Object.entries(b.byReason)) byReason[k] = (byReason[k] ?? 0) + n
  return { total: a.total + b.total, byReason }
}

export interface MetricsSource {
  /** Current origin request counts, or undefined when /metrics is unreachable or lacks the metric. */
  originRequests (): Promise<OriginCounts | undefined>
}

/** Scrapes `<adminUrl>/metrics`; a failure is an undefined figure, never a failed run. */
export function makeAdminMetrics (adminUrl: string, token?: string): MetricsSource {
  const url = new URL('/metrics', adminUrl)
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` }
  return {
    async originRequests () {
      try {
        const res = await fetch(url, { headers, signal: AbortSignal.timeout(1000) })
        if (!res.ok) return undefined
        const text = await res.text()
        // A labelled counter has no series until its first increment: a corral that has not yet asked its
        // origin anything has made 0 origin requests, not an unknown number.
        const total = sumMetric(text, ORIGIN_REQUESTS_METRIC) ?? (text.includes('corral_') ? 0 : undefined)
        return total === undefined ? undefined : { total, byReason: sumMetricBy(text, ORIGIN_REQUESTS_METRIC, 'reason') }
      } catch {
        return undefined
      }
    }
  }
}

/**
 * Several proxies behind a balancer: their counts summed. One that does not answer makes the sum unknown, not
 * smaller: a fleet total missing a member would let maxOriginRps pass on a figure that is too low.
 */
export function makeFleetMetrics (sources: readonly MetricsSource[]): MetricsSource {
  if (sources.length === 1) return sources[0] as MetricsSource
  return {
    async originRequests () {
      const all = await Promise.all(sources.map((s) => s.originRequests()))
      let sum: OriginCounts = { total: 0, byReason: {} }
      for (const c of all) {
        if (c === undefined) return undefined
        sum = addCounts(sum, c)
      }
      return sum
    }
  }
}
