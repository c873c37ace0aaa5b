/** One request on its way through the pipeline, and the ways the pipeline can answer it. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Trace } from './core/trace.js'
import type { CompiledRoute, ShedReason } from './shed.js'
import type { StoredEntry } from './store/types.js'
import type { OriginResponse } from './origin/fetch.js'
import type { XCache } from './core/metrics.js'
import type { CorralError } from './core/errors.js'

/** A request in flight through the pipeline. One per request, fixed shape. */
export interface Exchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly trace: Trace
  /** The request target as the client sent it (origin-form): what a pass asks the origin for. */
  readonly url: string
  /** The path, and the normalised query the key names: a fill asks the origin for exactly these (fillUrl). */
  readonly path: string
  readonly normalizedQuery: string
  readonly primaryKey: string
  readonly isHead: boolean
  readonly route: CompiledRoute
  /** Set when shedding allows only cached answers: why. */
  readonly cacheOnly: ShedReason | null
}

/** What a fill asks the origin for; built only on a miss, so a hit allocates nothing for it. */
export function fillUrl (ex: Exchange): string {
  return ex.normalizedQuery === '' ? ex.path : `${ex.path}?${ex.normalizedQuery}`
}

/** The answers the coalescing stage hands back to the pipeline (pipeline.ts implements them; deliver.ts writes). */
export interface Answers {
  serve (ex: Exchange, entry: StoredEntry, now: number, xCache: XCache, cacheStatus: string): void
  stream (ex: Exchange, source: { readonly response: OriginResponse, readonly head: readonly Buffer[] | null }, xCache: XCache, cacheStatus: string): void
  pass (ex: Exchange, cacheStatus: string): void
  originFailed (ex: Exchange, stale: StoredEntry | undefined, error: CorralError): void
  fail (ex: Exchange, err: unknown): void
}
