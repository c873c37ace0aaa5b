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

/** Where a request's id is kept: the id, and its number when it was made here (0 for a client's). */
export interface RequestIdHolder {
  requestId: string | null
  madeId: number
}

/**
 * The request's id: X-Request-Id when usable, else the trace id of a W3C traceparent, else a new one. Whatever it is,
 * it is left in `headers` as X-Request-Id, so every origin request built from them carries it.
 */
export function identifyRequest (holder: RequestIdHolder, headers: IncomingHttpHeaders): void {
  const given = headers['x-request-id']
  if (typeof given === 'string' && USABLE.test(given)) {
    holder.requestId = given
    return
  }
  const parent = headers.traceparent
  const traceId = typeof parent === 'string' ? TRACEPARENT.exec(parent)?.[1] : undefined
  if (traceId !== undefined && traceId !== ZERO_TRACE) {
    headers['x-request-id'] = traceId
    holder.requestId = traceId
    return
  }
  const n = ++counter
  const id = madeRequestId(n)
  headers['x-request-id'] = id
  holder.requestId = id
  holder.madeId = n
}

/** Base-36 digit pairs, "00" to "zz": an id's last two digits. */
const LOW_DIGITS = Array.from({ length: 36 * 36 }, (_, i) => i.toString(36).padStart(2, '0'))
/** The id up to its last two digits, made again once every 1296 ids. */
let idHead = ''
let idHeadOf = -1

/**
 * Id number `n` as `${PREFIX}-${n in base 36}`: the head kept while its digits hold, the last two from a table (a
 * number's toString(36) per request was 220 instructions of a hit's 5,800, bench/hit-instructions.ts --log).
 */
export function madeRequestId (n: number): string {
  if (n < LOW_DIGITS.length) return `${PREFIX}-${n.toString(36)}`
  const high = Math.floor(n / LOW_DIGITS.length)
  if (high !== idHeadOf) {
    idHead = `${PREFIX}-${high.toString(36)}`
    idHeadOf = high
  }
  return idHead + (LOW_DIGITS[n - high * LOW_DIGITS.length] as string)
}

/** The request's id, as identifyRequest finds or makes it. */
export function takeRequestId (headers: IncomingHttpHeaders): string {
  const holder: RequestIdHolder = { requestId: null, madeId: 0 }
  identifyRequest(holder, headers)
  return holder.requestId as string
}

/** What every id made here starts with, as bytes: the access line writes such an id from its number (access-line.ts). */
export const MADE_ID_PREFIX = Buffer.from(`${PREFIX}-`)

const ZERO_TRACE = '0'.repeat(32)
