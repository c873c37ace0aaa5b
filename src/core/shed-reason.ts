/**
 * Why a request was shed or served cache-only: shed.ts decides it, the cache's answer (policy/usable.ts) and the
 * shed page and the sheds-by-reason metric name it. A leaf, so the pure policy needs nothing from the stages above it.
 */
export type ShedReason = 'route-off' | 'cache-only' | 'shed-percent' | 'origin-saturated'

/** A shed response ready to write (shed-answer.ts builds it): `headers` is a flat `[name, value, …]` list as `res.writeHead` takes it. */
export interface ShedAnswer {
  readonly status: number
  readonly headers: readonly string[]
  readonly body: Buffer
}
