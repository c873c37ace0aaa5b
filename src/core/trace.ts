/**
 * One fixed-shape record per request (lru-cache's `status` idea): what each stage found. The access line, metrics and
 * the X-Corral-Debug answer read it. Fixed shape keeps V8 on one hidden class.
 */
import { performance } from 'node:perf_hooks'
import type { ServerResponse } from 'node:http'

/** The X-Cache value a request was answered with (the requests metric's label too). */
export type XCache = 'HIT' | 'MISS' | 'STALE' | 'PASS' | 'SHED' | 'REVALIDATED'

export const TRACE = Symbol('corral.trace')

export interface TraceSink {
  finish (trace: Trace, res: ServerResponse): void
}

export type Tier = 'memory' | 'shared' | 'none'
export type LeaseStep = 'acquired' | 'held' | 'unavailable' | 'takeover' | 'filled' | 'streamed' | 'timeout' | null

export class Trace {
  readonly start: number
  readonly sink: TraceSink
  key: string | null = null
  route: string | null = null
  shed: string | null = null
  tier: Tier = 'none'
  lease: LeaseStep = null
  xCache: XCache | null = null
  coalesced = false
  originStatus = 0
  originMs = 0
  bytes = 0
  /** The content coding the client was sent (policy/negotiate.ts); null for identity. */
  encoding: string | null = null
  /**
   * How the body went out when not from one stored buffer: streamed while its fill arrived (in this process, or on
   * another proxy and read through memcached: fleet-streamed), or read from memcached chunks.
   */
  body: 'streamed' | 'fleet-streamed' | 'chunks' | null = null
  error: string | null = null
  /** X-Request-Id (core/request-id.ts); null while access lines are off. */
  requestId: string | null = null
  /** The request id's number when it was made here, 0 for a client's (core/request-id.ts). */
  madeId = 0
  /** The client proved it holds the admin token: answer with the trace header. */
  debug = false
  done = false

  constructor (start: number, sink: TraceSink) {
    this.start = start
    this.sink = sink
  }
}

/** The X-Corral-Trace header value: `key=…; route=…; tier=…; …`, values quoted only when needed. */
function formatTrace (trace: Trace): string {
  const parts = [
    `key="${(trace.key ?? '').replace(/["\\\r\n]/g, '_')}"`,
    `route=${trace.route ?? '-'}`,
    `shed=${trace.shed ?? 'no'}`,
    `tier=${trace.tier}`,
    `lease=${trace.lease ?? '-'}`,
    `coalesced=${trace.coalesced ? 'yes' : 'no'}`,
    `origin=${trace.originStatus === 0 ? '-' : `${trace.originStatus} ${Math.round(trace.originMs)}ms`}`,
    `elapsed=${(performance.now() - trace.start).toFixed(2)}ms`
  ]
  return parts.join('; ')
}

/**
 * Headers corral adds to a response for this request, beyond the cache's own: X-Request-Id when ids are on, the
 * X-Corral-Trace answer for a client that showed the admin token. Null (nothing to add, nothing allocated) otherwise.
 */
export function extraHeaders (trace: Trace): string[] | null {
  if (trace.debug) return trace.requestId === null ? ['x-corral-trace', formatTrace(trace)] : ['x-request-id', trace.requestId, 'x-corral-trace', formatTrace(trace)]
  return trace.requestId === null ? null : ['x-request-id', trace.requestId]
}

interface ResponseWithTrace extends ServerResponse {
  [TRACE]?: Trace
}

/** A response still under way is accounted for when it closes: its trace goes to its sink then. */
export function finishOnClose (res: ServerResponse, trace: Trace): void {
  ;(res as ResponseWithTrace)[TRACE] = trace
  res.once('close', onResponseDone)
}

/** A plain function, not a closure per request: it finds its trace on the response. */
function onResponseDone (this: ServerResponse): void {
  const trace = (this as ResponseWithTrace)[TRACE]
  if (trace === undefined || trace.done) return
  trace.done = true
  trace.sink.finish(trace, this)
}
