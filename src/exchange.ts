/** One request on its way through the pipeline. Only the pipeline holds it: no stage below the driver sees it. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Trace } from './core/trace.js'
import type { CompiledRoute, ShedReason } from './shed.js'
import type { Target } from './key.js'

/** A request in flight through the pipeline. One per request, fixed shape. */
export interface Exchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly trace: Trace
  /** What the request names: path, normalised query, key, and the target a pass forwards. */
  readonly target: Target
  readonly route: CompiledRoute
  readonly isHead: boolean
  /** Set when shedding allows only cached answers: why. */
  readonly cacheOnly: ShedReason | null
}
