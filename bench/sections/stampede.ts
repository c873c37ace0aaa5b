/** Section 3: 500 requests at once for a cold key reach the origin once, on one process and on two sharing memcached. */
import { startCorral } from '../lib.js'
import { burst } from '../burst.js'
import { memcachedStats } from '../probes.js'
import { fmt, freshPath, log, row, withMemcached, type Run } from '../section.js'

export async function stampedeSection (r: Run): Promise<void> {
  const s = '3 stampede'
  const n = 500
  r.origin.setDelay(300)
  const corral = await startCorral({ origin: { url: r.origin.url } })
  try {
    r.origin.reset()
    const result = await burst([{ url: corral.url, count: n }], freshPath('/cold'))
    const originRequests = r.origin.requests()
    log(`  1 process: ${n} requests  origin requests ${originRequests}  non-2xx ${result.non2xx}  errors ${result.errors}  slowest ${fmt(result.maxMs)} ms  x-cache ${JSON.stringify(result.xCache)}`)
    r.details[`${s}.single`] = { originRequests, ...result }
    row(r, s, `1 process: origin requests (${n} concurrent)`, String(originRequests), '1', originRequests === 1 ? 'ok' : 'MISS')
    row(r, s, '1 process: non-2xx + errors', String(result.non2xx + result.errors), '0', result.non2xx + result.errors === 0 ? 'ok' : 'MISS')
    row(r, s, '1 process: slowest response', `${fmt(result.maxMs)} ms`, 'report (origin 300 ms)', 'info')
    if (originRequests !== 1) r.gateFailures.push(`${s}: 1 process sent ${originRequests} requests to the origin (want 1)`)
    if (result.non2xx + result.errors > 0) r.gateFailures.push(`${s}: 1 process: ${result.non2xx} non-2xx, ${result.errors} errors${result.firstError !== undefined ? ` (${result.firstError})` : ''}`)
  } finally {
    await corral.stop()
  }

  await withMemcached(r, s, async (mc) => {
    // includeHost off: both proxies see their own port in Host, and a fleet behind a balancer shares one host.
    const config = { origin: { url: r.origin.url }, cache: { memcached: { servers: [mc.server] }, key: { includeHost: false } } }
    const a = await startCorral(config)
    try {
      const b = await startCorral(config)
      try {
        const stats0 = await memcachedStats(mc.port)
        r.origin.reset()
        const result = await burst([{ url: a.url, count: n / 2 }, { url: b.url, count: n / 2 }], freshPath('/cold'))
        const originRequests = r.origin.requests()
        const stats1 = await memcachedStats(mc.port)
        const mcOps = { cmd_get: (stats1.cmd_get ?? 0) - (stats0.cmd_get ?? 0), cmd_set: (stats1.cmd_set ?? 0) - (stats0.cmd_set ?? 0) }
        log(`  2 processes + memcached: ${n / 2} + ${n / 2} requests  origin requests ${originRequests}  non-2xx ${result.non2xx}  errors ${result.errors}  slowest ${fmt(result.maxMs)} ms  x-cache ${JSON.stringify(result.xCache)}  memcached ops ${JSON.stringify(mcOps)}`)
        r.details[`${s}.fleet`] = { originRequests, memcachedOps: mcOps, ...result }
        row(r, s, '2 processes + memcached: origin requests', String(originRequests), '1', originRequests === 1 ? 'ok' : 'MISS')
        row(r, s, '2 processes: non-2xx + errors', String(result.non2xx + result.errors), '0', result.non2xx + result.errors === 0 ? 'ok' : 'MISS')
        row(r, s, '2 processes: memcached get / set (add) ops', `${mcOps.cmd_get} / ${mcOps.cmd_set}`, '> 0 (tier in use)', mcOps.cmd_get + mcOps.cmd_set > 0 ? 'ok' : 'MISS')
        if (originRequests !== 1) r.gateFailures.push(`${s}: 2 processes sharing memcached sent ${originRequests} requests to the origin (want 1)`)
        if (result.non2xx + result.errors > 0) r.gateFailures.push(`${s}: 2 processes: ${result.non2xx} non-2xx, ${result.errors} errors`)
      } finally {
        await b.stop()
      }
    } finally {
      await a.stop()
    }
  })
}
