/** Bursts: many requests at once over connections opened beforehand (sections 3 and 4), timed one by one. */
import { Pool } from 'undici'
import { median } from './rounds.js'

export interface BurstResult {
  readonly n: number
  readonly non2xx: number
  readonly errors: number
  readonly minMs: number
  readonly medianMs: number
  readonly maxMs: number
  /** Responses by X-Cache value. */
  readonly xCache: Record<string, number>
  readonly firstError?: string
}

export interface BurstTarget {
  readonly url: string
  readonly count: number
}

/**
 * Fire requests all at once (one connection each, opened beforehand with a request for `warmPath` so the burst lands
 * together) and time each from its dispatch to its last body byte.
 */
export async function burst (targets: readonly BurstTarget[], path: string, warmPath = '/__corral/health'): Promise<BurstResult> {
  const pools = targets.map((t) => ({ pool: new Pool(t.url, { connections: t.count, pipelining: 1 }), count: t.count }))
  const times: number[] = []
  const xCache: Record<string, number> = {}
  let non2xx = 0
  let errors = 0
  let firstError: string | undefined
  try {
    const one = async (pool: Pool): Promise<void> => {
      const start = performance.now()
      try {
        const res = await pool.request({ path, method: 'GET' })
        await res.body.arrayBuffer()
        times.push(performance.now() - start)
        if (res.statusCode < 200 || res.statusCode > 299) non2xx++
        const x = res.headers['x-cache']
        const label = typeof x === 'string' ? x : '(none)'
        xCache[label] = (xCache[label] ?? 0) + 1
      } catch (err) {
        errors++
        firstError ??= err instanceof Error ? err.message : String(err)
      }
    }
    // Open every connection first (one cheap request per connection, all at once, so the pool opens `count`
    // sockets); otherwise the burst is spread over the time it takes to connect hundreds of sockets.
    await Promise.all(pools.flatMap(({ pool, count }) => Array.from({ length: count }, async () => {
      const res = await pool.request({ path: warmPath, method: 'GET' })
      await res.body.arrayBuffer()
    })))
    const all: Array<Promise<void>> = []
    for (const { pool, count } of pools) {
      for (let i = 0; i < count; i++) all.push(one(pool))
    }
    await Promise.all(all)
  } finally {
    await Promise.all(pools.map(async ({ pool }) => await pool.destroy()))
  }
  return {
    n: times.length + errors,
    non2xx,
    errors,
    minMs: times.length > 0 ? Math.min(...times) : NaN,
    medianMs: times.length > 0 ? median(times) : NaN,
    maxMs: times.length > 0 ? Math.max(...times) : NaN,
    xCache,
    ...(firstError !== undefined ? { firstError } : {})
  }
}
