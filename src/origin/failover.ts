/**
 * origin/failover: what a failed origin request was (for health) and whether it may be sent again (to another server
 * of the group). Decided from the error alone.  [pure]
 */
import { errors as undiciErrors } from 'undici'
import { OriginTimeoutError } from '../core/errors.js'

export type FailureKind = 'connect-failure' | 'timeout' | 'reset'

/** No connection was made: the request cannot have reached the server. */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
/** The connection broke before the answer's headers (a keep-alive socket the server had closed, a crash). */
const RESETS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])

/**
 * A server's failure, or null for one that says nothing about the server (the client went away and aborted the
 * request, a header undici refused).
 */
export function classifyFailure (err: unknown): FailureKind | null {
  if (err instanceof OriginTimeoutError ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError) return 'timeout'
  const code = codeOf(err)
  if (CONNECT_FAILURES.has(code)) return 'connect-failure'
  if (RESETS.has(code)) return 'reset'
  return null
}

/**
 * May a request that failed before any byte of its answer be sent again? Only GET and HEAD without a body
 * (RFC 9110 §9.2.2: idempotent; a fill is a GET): a streamed request body is consumed by the first try, and a POST
 * may have been processed by a server that reset afterwards. Never after a timeout: the server may be overloaded,
 * and a retry adds load exactly when it hurts (docs/architecture.md, Lessons).
 */
export function mayRetry (method: string, hasBody: boolean, kind: FailureKind | null): boolean {
  if (hasBody || (method !== 'GET' && method !== 'HEAD')) return false
  return kind === 'connect-failure' || kind === 'reset'
}

function codeOf (err: unknown): string {
  const e = err as { code?: string, cause?: { code?: string } } | null
  return e?.cause?.code ?? e?.code ?? ''
}
