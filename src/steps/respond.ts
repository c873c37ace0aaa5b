/**
 * steps/respond: the driver's side of writing an answer. It names a row of answer.ts, hands deliver.ts (or pass.ts)
 * the plain values to write, and records in the trace what was written: the one place the trace learns X-Cache and
 * bytes.  [I/O through deliver.ts]
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { StoredEntry } from '../core/entry.js'
import type { OriginResponse } from '../origin/types.js'
import type { XCache } from '../core/trace.js'
import type { ShedReason } from '../shed.js'
import type { CompiledRoute } from '../shed-routes.js'
import { ANSWERS, cacheStatusOf, type Answer } from '../answer.js'
import { deliverShed, deliverText, limitSendStall, representationOf, serveEntry } from '../deliver.js'
import { selectRepresentation } from '../policy/select-representation.js'
import { streamResponse } from '../deliver-stream.js'
import { serveGrowing } from '../deliver-growing.js'
import type { GrowingFill } from '../origin/growing-fill.js'
import { extraHeaders, type Trace } from '../core/trace.js'
import { ttlSeconds } from '../policy/usable.js'
import type { Metrics } from '../core/metrics.js'

/**
 * What writing an answer reads of the request in flight and of the driver: declared here (the Exchange and the Driver
 * satisfy them), so the steps' shared writer does not depend on the records of the whole pipeline.
 */
interface Answering {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly isHead: boolean
  readonly trace: Trace
}
interface Writer<E extends Answering> {
  readonly deps: { readonly origin: { readonly timeoutMs: number }, readonly metrics: Metrics }
  readonly settings: { readonly removedBeforeDelivery: ReadonlySet<string> }
  fail (ex: E, err: unknown): void
}

/** A stored entry as the answer `answer` (Cache-Status `ttl=` from the entry, `detail=` when given). */
export function serve<E extends Answering> (d: Writer<E>, ex: E, entry: StoredEntry, now: number, answer: Answer, detail: string | null): 'done' {
  const { xCache } = ANSWERS[answer]
  const { trace } = ex
  trace.xCache = xCache
  const cacheStatus = cacheStatusOf(answer, ttlSeconds(entry, now), detail)
  // The client's coding, or identity when a Range applies to it (policy/select-representation.ts).
  const selected = selectRepresentation(entry, ex.req.headers, ex.isHead ? 'HEAD' : 'GET', now, representationOf)
  trace.encoding = selected.coding
  trace.bytes = serveEntry(
    ex.res, ex.req.headers, ex.isHead, selected.entry, now, xCache, cacheStatus, extraHeaders(trace), d.deps.origin.timeoutMs, d.settings.removedBeforeDelivery,
    selected.identity
  )
  return 'done'
}

/** An origin response relayed as it arrives (pass.ts); `head` holds body bytes already read. */
export function relay<E extends Answering> (d: Writer<E>, ex: E, response: OriginResponse, head: readonly Buffer[] | null, answer: Answer, detail: string | null): 'done' {
  const { xCache } = ANSWERS[answer]
  const { trace } = ex
  trace.xCache = xCache
  trace.bytes = 0
  const cacheStatus = cacheStatusOf(answer, 0, detail)
  streamResponse(ex.res, response, head, xCache, cacheStatus, ex.isHead, extraHeaders(trace), d.settings.removedBeforeDelivery, trace)
    .catch((err: unknown) => d.fail(ex, err))
  return 'done'
}

/** A fill's body as it arrives (origin/growing-fill.ts), for its leader or a waiter, as the answer `answer`. */
export function serveStreaming<E extends Answering> (d: Writer<E>, ex: E, growing: GrowingFill, now: number, answer: Answer): 'done' {
  const { xCache } = ANSWERS[answer]
  const { trace, req } = ex
  trace.xCache = xCache
  trace.bytes = 0
  trace.body = growing.fleet === true ? 'fleet-streamed' : 'streamed'
  serveGrowing(ex.res, req.headers, req.method ?? 'GET', ex.isHead, growing, now, xCache, cacheStatusOf(answer, 0, null), extraHeaders(trace),
    d.deps.origin.timeoutMs, d.settings.removedBeforeDelivery, trace).catch((err: unknown) => d.fail(ex, err))
  return 'done'
}

/** A short answer corral makes itself (an error, a 504). */
export function text (ex: Answering, status: number, body: string, xCache: XCache, answer: Answer): 'done' {
  ex.trace.xCache = xCache
  ex.trace.bytes = deliverText(ex.res, status, body, xCache, ANSWERS[answer].cacheStatus, extraHeaders(ex.trace) ?? undefined)
  return 'done'
}

/** The route's shed answer. */
export function shed<E extends Answering> (d: Writer<E>, res: ServerResponse, trace: Trace, route: CompiledRoute, reason: ShedReason, isHead: boolean): null {
  trace.xCache = 'SHED'
  trace.shed = reason
  d.deps.metrics.sheds.labels(reason, route.match).inc()
  trace.bytes = deliverShed(res, route.answer, reason, isHead, extraHeaders(trace))
  limitSendStall(res, d.deps.origin.timeoutMs)
  return null
}
