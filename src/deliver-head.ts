/**
 * deliver-head: a hit's response head as bytes prepared once per header list and per second. node:http builds a head
 * on every writeHead: it validates each name and value again, matches each against the fields it manages, adds Date,
 * Connection and Keep-Alive, and joins the strings. A spike answers the same page thousands of times a second with the
 * same head, so the head node:http built for the first hit is kept (`res._header`, the string it writes before the
 * body) and handed to the next hits of that second as it is, the X-Request-Id spliced in. Varnish and nginx likewise
 * copy a stored head rather than rebuild it.
 *
 * It is used only where node:http would have built the same bytes: an HTTP/1.1 keep-alive answer on a connection
 * with the same keep-alive settings, node's Date, a status with a body, and a head that declares its length
 * (node:http set no chunked or closing state for it). Anything else (HTTP/1.0, `Connection: close`, the last request
 * a socket may carry, a head node:http did not build as expected) takes writeHead. Hit responses get no setHeader
 * calls, so writeHead has nothing to merge.  [I/O: node:http's response state]
 */
import { STATUS_CODES, type ServerResponse } from 'node:http'
import { setTimeout } from 'node:timers'

/** The head of one header list in one second, with and without an X-Request-Id. */
export interface PreparedHead {
  /** The Date this head carries; reused only while it is the current one (currentDate). */
  readonly date: string
  /** The whole head when the answer has no request id. */
  readonly whole: string
  /** Up to the request id's value, and after it: before + id + after is the head with the id. */
  readonly before: string
  readonly after: string
  /** The connection settings node:http wrote Keep-Alive from. */
  readonly keepAliveTimeout: number
  readonly maxRequests: number
}

/** A header list whose head node:http did not build as expected in the second `date`: written by writeHead, not captured again. */
function unprepared (date: string): PreparedHead {
  return { date, whole: '', before: '', after: '', keepAliveTimeout: -1, maxRequests: -1 }
}

/** The fields of node:http's response state read or set here (not in its public types). */
interface ResponseState {
  _header: string | null
  _last: boolean
  _keepAliveTimeout: number
  _maxRequestsPerSocket: number | undefined
  _hasBody: boolean
  chunkedEncoding: boolean
  shouldKeepAlive: boolean
  sendDate: boolean
  maxRequestsOnConnectionReached?: boolean
  statusCode: number
}

/**
 * The current second's Date value, made as node:http makes its own (toUTCString, dropped at the next second): a
 * prepared head is reused while its date is this one (read as a live binding: no call on a hit). Its timer is node:timers', which a test's fake clock leaves
 * running, as node:http's is.
 */
export let currentDate: string | null = null

function refreshDate (): string {
  const now = new Date()
  currentDate = now.toUTCString()
  setTimeout(() => { currentDate = null }, 1000 - now.getMilliseconds()).unref()
  return currentDate
}

/** No head written yet, node:http's Date, and a connection kept open after this answer. */
function openKeepAlive (r: ResponseState): boolean {
  return r._header === null && r.shouldKeepAlive && r.sendDate && r.maxRequestsOnConnectionReached !== true
}

/** Would node:http write this response's head as `head` was written? Read before every reuse. */
export function fitsHead (res: ServerResponse, head: PreparedHead): boolean {
  const r = res as unknown as ResponseState
  return openKeepAlive(r) && r._keepAliveTimeout === head.keepAliveTimeout && r._maxRequestsPerSocket === head.maxRequests
}

/**
 * Hands the prepared head to node:http: res.end writes it before the body, as it writes one writeHead built. The
 * request id is spliced in unchecked, where writeHead would validate it: ids are plain tokens (core/request-id.ts keeps
 * a client's only when it is one).
 */
export function usePreparedHead (res: ServerResponse, status: number, head: PreparedHead, requestId: string | null): void {
  const r = res as unknown as ResponseState
  r.statusCode = status
  r._header = requestId === null ? head.whole : head.before + requestId + head.after
}

/** Can a head written for this response be prepared: would it be reused on a response like it? */
export function canPrepare (res: ServerResponse, status: number): boolean {
  const r = res as unknown as ResponseState
  // 204, 304 and 1xx: writeHead marks the answer bodiless, which a prepared head would skip. HEAD: see prepareHead.
  return openKeepAlive(r) && r._hasBody && status >= 200 && status !== 204 && status !== 304
}

function declaresLength (headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'content-length') return true
  return false
}

const TAIL = /^(Date: [^\r\n]+\r\n)?(Connection: keep-alive\r\n(?:Keep-Alive: [^\r\n]+\r\n)?\r\n)$/

/**
 * The head writeHead just built for `headers` (and the request id after them, when given), kept when it is the
 * status line, the fields as given and node:http's own Date, Connection and Keep-Alive; otherwise a head no response fits.
 */
export function prepareHead (res: ServerResponse, status: number, headers: readonly string[], requestId: string | null): PreparedHead {
  const r = res as unknown as ResponseState
  const date = currentDate ?? refreshDate()
  const built = r._header
  // A HEAD answer's head is complete without a length (node:http frames no body for it), so only a response with a
  // body, declaring its length, is kept: a GET after it must not lose its framing.
  if (built === null || !r._hasBody || r.chunkedEncoding || r._last || !r.shouldKeepAlive || !declaresLength(headers)) {
    return unprepared(date)
  }
  let fields = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`
  for (let i = 0; i < headers.length; i += 2) fields += `${headers[i] as string}: ${headers[i + 1] as string}\r\n`
  if (!built.startsWith(fields)) return unprepared(date)
  const idLine = requestId === null ? '' : `x-request-id: ${requestId}\r\n`
  if (!built.startsWith(idLine, fields.length)) return unprepared(date)
  // node:http's Date and this one are each dropped by a timer at the second's turn, in no set order: the head carries
  // this one, so that it is current as long as the head is used.
  // A stored list usually has the origin's Date (RFC 9110 §6.6.1), and node:http adds none.
  const added = TAIL.exec(built.slice(fields.length + idLine.length))
  if (added === null) return unprepared(date)
  const tail = (added[1] === undefined ? '' : `Date: ${date}\r\n`) + (added[2] as string)
  return {
    date,
    whole: fields + tail,
    before: fields + 'x-request-id: ',
    after: '\r\n' + tail,
    keepAliveTimeout: r._keepAliveTimeout,
    maxRequests: r._maxRequestsPerSocket as number
  }
}
