/**
 * shed: may this request be served, served only from cache, or refused? A pure decision on the matched route, the
 * flags and the origin's load. The route table is shed-routes.ts, the answers a shed request gets shed-answer.ts.
 */
import type { Priority } from './config/types.js'
import type { Flags } from './config/flags.js'
import type { ShedReason } from './core/shed-reason.js'
import type { ShedShare } from './shed-share.js'

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
  /** The traffic mix and the share shed so far: what shedPercent is a share of (shed-share.ts). */
  readonly share: ShedShare
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
 * May this request be served, served only from cache, or refused? Checked in order of operator intent:
 * a route switched off is refused outright; cacheOnly applies to every route (it promises that nothing
 * reaches the origin); shedPercent and a saturated origin spare critical routes and, since a stale page
 * beats an error page, only turn requests into cache-only.
 *
 * shedPercent is a share of every request that gets here, so each one is counted into the mix (`load.share`).
 */
export function decideShed (route: ShedRoute, flags: Flags, load: ShedLoad): ShedDecision {
  if (route.flag !== null && flags.switches.get(route.flag) === false) return REJECT_ROUTE_OFF
  const byShare = load.share.decide(route.priority, flags.cacheOnly ? 0 : flags.shedPercent)
  if (flags.cacheOnly) return CACHE_ONLY_FLAG
  if (route.priority === 'critical') return SERVE
  if (byShare) return CACHE_ONLY_PERCENT
  if (load.originSaturated) return CACHE_ONLY_SATURATED
  return SERVE
}
