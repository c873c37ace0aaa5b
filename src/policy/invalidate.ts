/**
 * policy/invalidate: which stored URIs an answer to an unsafe request invalidates (RFC 9111 §4.4). Pure: corral
 * marks them stale fleet-wide (docs/architecture.md, Lessons: mark stale, do not delete), it does not delete them, so a stale copy can still stand
 * in when the origin fails afterwards.
 */
import { firstValue, type HeaderValue } from '../core/headers.js'
import { splitTarget } from '../core/target.js'

/** RFC 9110 §9.2.1: the safe methods; every other method, known or not (M-SEARCH), is unsafe. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

export function isSafeMethod (method: string): boolean {
  return SAFE.has(method)
}

/** A URI to invalidate, split as the key stage names entries: the Host as sent and the origin-form target. */
export interface InvalidatedUri {
  readonly host: string
  /** Path and query, origin-form (`/a?b=1`). */
  readonly target: string
}

export interface UnsafeExchange {
  readonly method: string
  readonly status: number
  /** The request target as received (origin-form or absolute-form). */
  readonly target: string
  readonly host: string
  readonly location: HeaderValue
  readonly contentLocation: HeaderValue
  /** The scheme clients use for this host ('http' unless corral sits behind a TLS terminator). */
  readonly scheme: string
}

/**
 * §4.4: a non-error answer (2xx or 3xx) to an unsafe method invalidates the target URI, and the URIs in Location
 * and Content-Location when they share its origin (scheme, host and port: a response must not be able to
 * invalidate another site's pages). Anything else invalidates nothing. The target URI comes first.
 */
export function decideInvalidation (ex: UnsafeExchange): InvalidatedUri[] {
  if (isSafeMethod(ex.method) || ex.status < 200 || ex.status >= 400) return []
  let base: URL
  try {
    base = new URL(ex.target.startsWith('/') ? `${ex.scheme}://${ex.host}${ex.target}` : ex.target)
  } catch {
    return []
  }
  // The target itself keeps the client's spelling byte for byte, as its cache key does (core/target.ts splitTarget).
  const split = splitTarget(ex.target)
  const host = split.host ?? ex.host
  const out: InvalidatedUri[] = [{ host, target: split.query === '' ? split.path : `${split.path}?${split.query}` }]
  for (const value of [ex.location, ex.contentLocation]) {
    const ref = firstValue(value)
    if (ref === undefined || ref.trim() === '') continue
    let url: URL
    try {
      url = new URL(ref.trim(), base)
    } catch {
      continue
    }
    if (url.origin !== base.origin) continue
    const target = url.pathname + url.search
    if (!out.some(u => u.target === target)) out.push({ host, target })
  }
  return out
}
