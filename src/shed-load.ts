/** The live load shedding reads (shed.ts ShedLoad): whether the origin is saturated, and the traffic mix. */
import type { ShedLoad } from './shed.js'
import type { ShedShare } from './shed-share.js'

/** What the load reads of the origin limiter (origin/limit.ts OriginLimiter). */
interface Saturation {
  readonly saturated: boolean
}

/**
 * A class, not an object literal with a getter: V8 keeps a literal with an accessor in dictionary mode, so both of
 * decideShed's reads per request went through the generic LoadIC (about 75 instructions each, callgrind, bench/
 * hit-instructions.ts).
 */
export class LimiterLoad implements ShedLoad {
  readonly share: ShedShare
  readonly #limiter: Saturation

  constructor (limiter: Saturation, share: ShedShare) {
    this.#limiter = limiter
    this.share = share
  }

  get originSaturated (): boolean {
    return this.#limiter.saturated
  }
}
