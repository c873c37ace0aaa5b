/**
 * Why a request was shed or served cache-only: shed.ts decides it, the cache's answer (policy/usable.ts) and the
 * shed page and the sheds-by-reason metric name it. A leaf, so the pure policy needs nothing from the stages above it.
 */
export type ShedReason = 'route-off' | 'cache-only' | 'shed-percent' | 'origin-saturated'
