/**
 * steps/respond: the driver's side of writing an answer. It names a row of answer.ts, hands deliver.ts (or pass.ts)
 * the plain values to write, and records in the trace what was written: the one place the trace learns X-Cache and
 * bytes.  [I/O through deliver.ts]
 */
import type { ServerResponse } from 'node:http'
import type { StoredEntry } from '../core/entry.js'
import type { OriginResponse } from '../origin/types.js'
import type { XCache } from '../core/metrics.js'
import type { ShedReason } from '../shed.js'
import type { CompiledRoute } from '../shed-routes.js'
import { ANSWERS, cacheStatusOf, type Answer } from '../answer.js'
import { deliverShed, deliverText, limitSendStall, serveEntry } from '../deliver.js'
import { streamResponse } from '../deliver-stream.js'
import { extraHeaders, type Trace } from '../core/trace.js'
import { ttlSeconds } from '../policy/usable.js'
import type { Driver, Exchange, Step } from '../exchange.js'

/** A stored entry as the answer `answer` (Cache-Status `ttl=` from the entry, `detail=` when given). */
export function serve (d: Driver, ex: Exchange, entry: StoredEntry, now: number, answer: Answer, detail: string | null): Step {
  const { xCache } = ANSWERS[answer]
  const { trace } = ex
  trace.xCache = xCache
  const cacheStatus = cacheStatusOf(answer, ttlSeconds(entry, now), detail)
  trace.bytes = serveEntry(ex.res, ex.req.headers, ex.isHead, entry, now, xCache, cacheStatus, extraHeaders(trace), d.deps.origin.timeoutMs, d.settings.removedBeforeDelivery)
  return 'done'
}

/** An origin response relayed as it arrives (pass.ts); `head` holds body bytes already read. */
export function relay (d: Driver, ex: Exchange, response: OriginResponse, head: readonly Buffer[] | null, answer: Answer, detail: string | null): Step {
  const { xCache } = ANSWERS[answer]
  const { trace } = ex
  trace.xCache = xCache
  trace.bytes = 0
  const cacheStatus = cacheStatusOf(answer, 0, detail)
  streamResponse(ex.res, response, head, xCache, cacheStatus, ex.isHead, extraHeaders(trace), d.settings.removedBeforeDelivery, trace)
    .catch((err: unknown) => d.fail(ex, err))
  return 'done'
}

/** A short answer corral makes itself (an error, a 504). */
export function text (ex: Exchange, status: number, body: string, xCache: XCache, answer: Answer): Step {
  ex.trace.xCache = xCache
  ex.trace.bytes = deliverText(ex.res, status, body, xCache, ANSWERS[answer].cacheStatus, extraHeaders(ex.trace) ?? undefined)
  return 'done'
}

/** The route's shed answer. */
export function shed (d: Driver, res: ServerResponse, trace: Trace, route: CompiledRoute, reason: ShedReason, isHead: boolean): null {
  trace.xCache = 'SHED'
  trace.shed = reason
  d.deps.metrics.sheds.labels(reason, route.match).inc()
  trace.bytes = deliverShed(res, route.answer, reason, isHead, extraHeaders(trace))
  limitSendStall(res, d.deps.origin.timeoutMs)
  return null
}
