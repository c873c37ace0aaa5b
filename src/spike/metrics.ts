/** Reading the proxy's own count of origin requests from its admin /metrics (Prometheus text format). */

export const ORIGIN_REQUESTS_METRIC = 'corral_origin_requests_total'

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

export interface MetricsSource {
  /** Current origin request count, or undefined when /metrics is unreachable or lacks the metric. */
  originRequests (): Promise<number | undefined>
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
        return sumMetric(text, ORIGIN_REQUESTS_METRIC) ?? (text.includes('corral_') ? 0 : undefined)
      } catch {
        return undefined
      }
    }
  }
}
