/**
 * answer: the one table from what happened to a request to what the client is told: X-Cache, Cache-Status (RFC 9211,
 * https://www.rfc-editor.org/rfc/rfc9211#section-2) and where the answer's bytes come from. The pipeline names a row;
 * nothing else spells these values.  [pure]
 */
import type { XCache } from './core/trace.js'

/** Who made the bytes: a stored entry, the origin (relayed as it arrives, or just stored), or corral itself. */
export type Source = 'cache' | 'origin' | 'corral'

export interface AnswerRow {
  readonly xCache: XCache
  /** Cache-Status without its per-answer parameters. */
  readonly cacheStatus: string
  /** `ttl=` follows (the entry's freshness left). */
  readonly ttl: boolean
  readonly source: Source
}

export const ANSWERS = {
  /** A fresh entry. */
  hit: { xCache: 'HIT', cacheStatus: 'corral; hit', ttl: true, source: 'cache' },
  /** A stale entry standing in; `detail=` says why (stale-while-revalidate, grace, stale-if-error, a shed reason…). */
  stale: { xCache: 'STALE', cacheStatus: 'corral; hit', ttl: true, source: 'cache' },
  /** Another request's fill, waited for. */
  collapsed: { xCache: 'HIT', cacheStatus: 'corral; hit; detail=collapsed', ttl: false, source: 'cache' },
  /** Another request's fill of a large entry, read as it arrives (origin/growing-body.ts). */
  'collapsed-streamed': { xCache: 'HIT', cacheStatus: 'corral; hit; detail=collapsed-streamed', ttl: false, source: 'origin' },
  /** Another proxy's fill of a large entry, read through memcached as it arrives (coalesce/fleet-follow.ts). */
  'fleet-streamed': { xCache: 'HIT', cacheStatus: 'corral; hit; detail=fleet-streamed', ttl: false, source: 'origin' },
  /** This request's fill of a large entry, written to the client as it arrives (stored once complete). */
  streamed: { xCache: 'MISS', cacheStatus: 'corral; fwd=uri-miss; detail=streamed', ttl: false, source: 'origin' },
  /** Over cache.maxObjectBytes, never stored: this request's fetch relayed to every client of it (origin/shared-stream.ts). */
  'too-large-streamed': { xCache: 'MISS', cacheStatus: 'corral; fwd=uri-miss; detail=too-large-streamed', ttl: false, source: 'origin' },
  /** The same, as a client that joined another request's fetch. */
  'too-large-collapsed': { xCache: 'MISS', cacheStatus: 'corral; fwd=uri-miss; collapsed; detail=too-large-streamed', ttl: false, source: 'origin' },
  /** This request's fill, nothing stored before. */
  stored: { xCache: 'MISS', cacheStatus: 'corral; fwd=uri-miss; stored', ttl: false, source: 'origin' },
  /** This request's fill, replacing an expired entry. */
  refetched: { xCache: 'MISS', cacheStatus: 'corral; fwd=stale; stored', ttl: false, source: 'origin' },
  /** The origin's 304 made the expired entry fresh again. */
  revalidated: { xCache: 'REVALIDATED', cacheStatus: 'corral; fwd=stale; fwd-status=304; stored', ttl: false, source: 'origin' },
  /** Not stored, relayed; `detail=` gives policy's reason. */
  miss: { xCache: 'MISS', cacheStatus: 'corral; fwd=uri-miss', ttl: false, source: 'origin' },
  /** The URL is remembered as uncacheable (coalesce/hit-for-pass.ts). */
  'hit-for-pass': { xCache: 'PASS', cacheStatus: 'corral; fwd=bypass; detail=hit-for-pass', ttl: false, source: 'origin' },
  /** A request that may not share (Authorization, another variant's leader). */
  bypass: { xCache: 'PASS', cacheStatus: 'corral; fwd=bypass', ttl: false, source: 'origin' },
  /** Authorization, and the answer said it may be stored for everyone (RFC 9111 §3.5). */
  'bypass-stored': { xCache: 'PASS', cacheStatus: 'corral; fwd=bypass; stored', ttl: false, source: 'origin' },
  /** A method the cache does not answer (OPTIONS, TRACE, unsafe methods). */
  method: { xCache: 'PASS', cacheStatus: 'corral; fwd=method', ttl: false, source: 'origin' },
  /** The origin failed and nothing may stand in: 502/504 (X-Cache PASS on a pass). */
  error: { xCache: 'MISS', cacheStatus: 'corral; fwd=uri-miss; detail=origin-error', ttl: false, source: 'corral' },
  /** only-if-cached and nothing stored may answer: 504. */
  'only-if-cached': { xCache: 'MISS', cacheStatus: 'corral; fwd=miss; detail=only-if-cached', ttl: false, source: 'corral' }
} as const satisfies Record<string, AnswerRow>

export type Answer = keyof typeof ANSWERS

/** The Cache-Status value for a row: `ttl` when the row carries one, `detail` when given. */
export function cacheStatusOf (answer: Answer, ttl: number, detail: string | null): string {
  const row: AnswerRow = ANSWERS[answer]
  const base = row.ttl ? `${row.cacheStatus}; ttl=${ttl}` : row.cacheStatus
  return detail === null ? base : `${base}; detail=${detail}`
}
