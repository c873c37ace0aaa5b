/**
 * policy/status: what corral knows about a status code when deciding to store a response (RFC 9111 §3, §4.2.2;
 * RFC 9110 §15). Pure.
 */

/**
 * RFC 9110 §15.1: heuristically cacheable statuses, the only ones heuristic freshness may cover (off by default:
 * cache.heuristicFraction). 206 is listed there, but corral stores whole representations only.
 */
const HEURISTIC = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501])

/**
 * Final statuses whose meaning corral understands for caching (RFC 9111 §3 "understands the response status
 * code"; §5.2.2.3 must-understand): those RFC 9110 §15 defines plus 429, 431, 451 and 511 (RFC 6585, RFC 7725), less
 * 206 (partial content is not assembled: never stored) and 304 (it updates an entry, §4.3.4, it is not one). Storing
 * any of them replays its bytes; none needs handling beyond that.
 */
const UNDERSTOOD = new Set([
  200, 201, 202, 203, 204, 205,
  300, 301, 302, 303, 305, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 429, 431, 451,
  500, 501, 502, 503, 504, 505, 511
])

export function isHeuristicallyCacheable (status: number): boolean {
  return HEURISTIC.has(status)
}

export function isUnderstoodStatus (status: number): boolean {
  return UNDERSTOOD.has(status)
}

/** RFC 9110 §15: 1xx are interim, never stored; 206 and 304 are never stored as themselves (see UNDERSTOOD). */
export function isNeverStored (status: number): boolean {
  return status < 200 || status > 999 || status === 206 || status === 304
}

/**
 * A server error: the operator's grace and stale-if-error defaults never extend one (only the origin's own windows
 * do), so a cached 503 lives exactly as long as the origin asked and no longer (README: what wins).
 */
export function isServerError (status: number): boolean {
  return status >= 500
}
