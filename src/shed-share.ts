/**
 * shedPercent as the share of ALL requests, lowest priority first: sheddable requests are shed until they make up the
 * share, then normal ones, never critical ones. Which share of each priority that takes depends on the traffic mix, so
 * the mix is counted here, over a window of recent requests (counts halved every WINDOW requests, so the mix follows
 * the traffic within a few thousand requests). Pure: no I/O, no timers, no allocation per request.
 *
 * Before (issue 26, friction 2), shedPercent P shed 2P% of sheddable routes and (2P - 100)% of normal ones whatever
 * the mix: at 50 it shed every sheddable request and no normal one, which was half of all traffic only by chance.
 */
import type { Priority } from './config/types.js'

/** Requests per halving of the counts. */
const WINDOW = 1000
/** 1, less the rounding of summed fractions: ten additions of 0.3 come to 2.9999999999999996, which must count as 3. */
const WHOLE = 1 - 1e-9

export class ShedShare {
  // TypeScript-private fields, not #private: this runs on every request, and the brand check of #fields cost about
  // 7 ns a call here (node 20), a quarter of the whole decision.
  private critical = 0
  private normal = 0
  private sheddable = 0
  /** Requests left before the counts are halved: one decrement per request, not a sum of three. */
  private untilHalving = WINDOW * 2
  /** Requests shedPercent shed, on the same decaying scale as the counts. */
  private shed = 0
  // Error diffusion per priority: each request adds its priority's shed rate, and a request is shed each time the
  // credit reaches 1, so any run of n requests at rate r sheds floor(nr) or ceil(nr) of them, spread out.
  private normalCredit = 0
  private sheddableCredit = 0

  /** Counts this request into the mix and says whether shedPercent (0-100) sheds it. */
  decide (priority: Priority, percent: number): boolean {
    if (--this.untilHalving === 0) this.halve()
    // The common case first, and out at once: shedPercent off (0), nothing but the count.
    if (percent <= 0) {
      if (priority === 'normal') this.normal++
      else if (priority === 'critical') this.critical++
      else this.sheddable++
      return false
    }
    switch (priority) {
      case 'critical':
        this.critical++
        return false
      case 'normal': {
        this.normal++
        this.normalCredit += shedRates(percent, this.critical, this.normal, this.sheddable, true)
        if (this.normalCredit < WHOLE) return false
        this.normalCredit -= 1
        break
      }
      case 'sheddable': {
        this.sheddable++
        this.sheddableCredit += shedRates(percent, this.critical, this.normal, this.sheddable, false)
        if (this.sheddableCredit < WHOLE) return false
        this.sheddableCredit -= 1
        break
      }
    }
    this.shed++
    return true
  }

  /** The share of recent requests (about the last 1000 to 2000) that shedPercent shed, in per cent. */
  shedPercent (): number {
    const total = this.critical + this.normal + this.sheddable
    return total === 0 ? 0 : (this.shed / total) * 100
  }

  private halve (): void {
    this.untilHalving = WINDOW
    this.critical /= 2
    this.normal /= 2
    this.sheddable /= 2
    this.shed /= 2
  }
}

/**
 * The share (0-1) of one priority's requests to shed so that `percent` of all requests are shed, sheddable first,
 * given the counts of each priority in the mix: `normal` picks the normal rate, else the sheddable one. At most
 * sheddable + normal of the traffic can be shed: with more critical traffic than 100 - percent the share falls short,
 * and the metric shows by how much.
 */
export function shedRates (percent: number, critical: number, normal: number, sheddable: number, forNormal: boolean): number {
  const total = critical + normal + sheddable
  if (total <= 0) return 0
  const wanted = (Math.min(100, percent) / 100) * total
  if (!forNormal) return sheddable <= 0 ? 1 : Math.min(1, wanted / sheddable)
  return normal <= 0 ? 0 : Math.min(1, Math.max(0, (wanted - sheddable) / normal))
}
