/**
 * shed: may this request be served, served only from cache, or refused? A pure decision on the matched route, the
 * flags and the origin's load. The route table is shed-routes.ts, the answers a shed request gets shed-answer.ts.
 */
import type { Priority } from './config/types.js'
import type { Flags } from './config/flags.js'
import type { ShedReason } from './core/shed-reason.js'

/** Why a request was not served normally: the label of the sheds-by-reason metric and the access line. */
export type { ShedReason }

/**
 * serve: the normal pipeline. cache-only: a cached copy of any age may answer, a miss gets the route's
 * shed answer and nothing reaches the origin. reject: the shed answer, without a cache lookup.
 */
export type ShedDecision =
  | { readonly action: 'serve' }
  | { readonly action: 'cache-only', readonly reason: ShedReason }
  | { readonly action: 'reject', readonly reason: ShedReason }

export interface ShedLoad {
  /** OriginLimiter.saturated: every origin slot taken and the wait queue full. */
  readonly originSaturated: boolean
}

/** What the decision reads of the matched route (shed-routes.ts CompiledRoute). */
export interface ShedRoute {
  readonly flag: string | null
  readonly priority: Priority
}

// Decisions are shared constants: deciding costs no allocation, and callers may compare by identity.
const SERVE: ShedDecision = Object.freeze({ action: 'serve' })
const REJECT_ROUTE_OFF: ShedDecision = Object.freeze({ action: 'reject', reason: 'route-off' })
const CACHE_ONLY_FLAG: ShedDecision = Object.freeze({ action: 'cache-only', reason: 'cache-only' })
const CACHE_ONLY_PERCENT: ShedDecision = Object.freeze({ action: 'cache-only', reason: 'shed-percent' })
const CACHE_ONLY_SATURATED: ShedDecision = Object.freeze({ action: 'cache-only', reason: 'origin-saturated' })

/**
 * Whether shedPercent picks this ticket, for a share of `threshold` per cent. 37 is coprime with 100, so
 * `ticket * 37 mod 100` visits every slot 0..99 exactly once in any 100 consecutive tickets: exactly
 * ceil(threshold) of every 100 are shed, and they are spread out (at 40%, successive shed tickets are 1 to 3
 * apart) rather than a burst of refusals followed by a burst of origin traffic. Reducing the ticket mod 100
 * first keeps the product exact for any counter value.
 */
export function isShedTicket (ticket: number, threshold: number): boolean {
  return ((ticket % 100) * 37) % 100 < threshold
}

/** The per-cent share of a priority's requests that shedPercent P sheds: sheddable routes go first. */
function shedThreshold (priority: Priority, shedPercent: number): number {
  switch (priority) {
    case 'critical': return 0
    case 'sheddable': return Math.min(100, shedPercent * 2)
    case 'normal': return Math.max(0, (shedPercent - 50) * 2)
  }
}

/**
 * May this request be served, served only from cache, or refused? Checked in order of operator intent:
 * a route switched off is refused outright; cacheOnly applies to every route (it promises that nothing
 * reaches the origin); shedPercent and a saturated origin spare critical routes and, since a stale page
 * beats an error page, only turn requests into cache-only.
 *
 * `ticket` is a per-process request counter the caller increments once per request. Keep one counter per
 * priority (e.g. `tickets[route.priority]++`) to make each priority's shed share exact over every 100 of
 * its requests; one shared counter is exact for the mixed stream only.
 */
export function decideShed (route: ShedRoute, flags: Flags, load: ShedLoad, ticket: number): ShedDecision {
  if (route.flag !== null && flags.switches.get(route.flag) === false) return REJECT_ROUTE_OFF
  if (flags.cacheOnly) return CACHE_ONLY_FLAG
  if (route.priority === 'critical') return SERVE
  if (flags.shedPercent > 0 && isShedTicket(ticket, shedThreshold(route.priority, flags.shedPercent))) {
    return CACHE_ONLY_PERCENT
  }
  if (load.originSaturated) return CACHE_ONLY_SATURATED
  return SERVE
}
