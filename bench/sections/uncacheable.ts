/** Section 4: 100 requests at once for a no-store page are released together, never queued behind one another. */
import { startCorral } from '../lib.js'
import { burst } from '../burst.js'
import { atMost, fmt, freshPath, log, row, type Run } from '../section.js'

export async function uncacheableSection (r: Run): Promise<void> {
  const s = '4 uncacheable'
  const n = 100
  const originMs = 300
  r.origin.setDelay(originMs)
  const corral = await startCorral({ origin: { url: r.origin.url } })
  try {
    const path = freshPath('/nostore')
    const bursts = [{ label: 'never-seen URL', target: 2 * originMs }, { label: 'remembered as pass', target: originMs }]
    for (const [i, b] of bursts.entries()) {
      r.origin.reset()
      const result = await burst([{ url: corral.url, count: n }], path)
      const originRequests = r.origin.requests()
      log(`  burst ${i + 1} (${b.label}): slowest ${fmt(result.maxMs)} ms  median ${fmt(result.medianMs)} ms  origin requests ${originRequests}  non-2xx ${result.non2xx}  errors ${result.errors}  x-cache ${JSON.stringify(result.xCache)}`)
      r.details[`${s}.burst${i + 1}`] = { originRequests, ...result }
      // Slack of half an origin round trip for a noisy 2-core machine; a serialized queue would be n × 300 ms.
      row(r, s, `burst ${i + 1} (${b.label}): slowest`, `${fmt(result.maxMs)} ms`, `~${b.target} ms`, atMost(result.maxMs, b.target + originMs / 2))
      row(r, s, `burst ${i + 1}: origin requests`, String(originRequests), String(n), originRequests === n ? 'ok' : 'MISS')
      row(r, s, `burst ${i + 1}: non-2xx + errors`, String(result.non2xx + result.errors), '0', result.non2xx + result.errors === 0 ? 'ok' : 'MISS')
      if (result.non2xx + result.errors > 0) r.gateFailures.push(`${s}: burst ${i + 1}: ${result.non2xx} non-2xx, ${result.errors} errors${result.firstError !== undefined ? ` (${result.firstError})` : ''}`)
    }
  } finally {
    await corral.stop()
  }
}
