/**
 * One fixed-shape record per request (lru-cache's `status` idea): what each stage found. The access line, metrics and
 * the X-Corral-Debug answer read it. Fixed shape keeps V8 on one hidden class.
 */
import type { XCache } from './metrics.js'

export const TRACE = Symbol('corral.trace')

export interface TraceSink {
  finish (trace: Trace, res: import('node:http').ServerResponse): void
}

export class Trace {
  readonly start: number
  readonly sink: TraceSink
  key: string | null = null
  xCache: XCache | null = null
  coalesced = false
  originStatus = 0
  bytes = 0
  error: string | null = null
  shed: string | null = null
  done = false

  constructor (start: number, sink: TraceSink) {
    this.start = start
    this.sink = sink
  }
}
