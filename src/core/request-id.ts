/**
 * Request ids: the client's (or its proxy's) when it sends one, else one made here; sent to the origin and back on
 * the response, and written in the access line, so one request can be followed through every log that saw it.
 * Resolved only while access lines are on (pipeline settings, once per config load): a hit then pays a header read and,
 * for a client that sent none, a counter increment and one short string.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

/**
 * Ids made here: a random per-process prefix and a counter (`3f9a1c2e-1k`), unique across a fleet's processes and
 * cheaper than randomUUID per request; they are not secrets and need not be unguessable.
 */
const PREFIX = randomBytes(4).toString('hex')
let counter = 0

/** A client's id is kept when it is a plain token: it goes into log lines and an origin's headers as it is. */
const USABLE = /^[\w.:@/+=-]{1,128}$/

/** W3C Trace Context §3.2: `version-traceid-parentid-flags`, the trace id 32 lower-case hex digits, not all zero. */
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/

/**
 * The request's id: X-Request-Id when usable, else the trace id of a W3C traceparent, else a new one. Whatever it is,
 * it is left in `headers` as X-Request-Id, so every origin request built from them carries it.
 */
export function takeRequestId (headers: IncomingHttpHeaders): string {
  const given = headers['x-request-id']
  if (typeof given === 'string' && USABLE.test(given)) return given
  const parent = headers.traceparent
  const traceId = typeof parent === 'string' ? TRACEPARENT.exec(parent)?.[1] : undefined
  const id = traceId !== undefined && traceId !== ZERO_TRACE ? traceId : `${PREFIX}-${(++counter).toString(36)}`
  headers['x-request-id'] = id
  return id
}

const ZERO_TRACE = '0'.repeat(32)
