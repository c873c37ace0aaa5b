/**
 * The access line, written as bytes straight into the log's buffer: no string is built for it, no JSON serialiser
 * runs. What a run of requests for the same page repeats (method, URL, status, cache, bytes, client, Host, user
 * agent, referer) is JSON-escaped and encoded once and copied while it repeats; the time is encoded once per
 * millisecond; numbers are written digit by digit. Building the line as a string and encoding it cost 1.6 µs of a
 * 2.3 µs hit in bench:micro (string concatenation, then flattening and UTF-8 encoding the rope per chunk).
 *
 * Fields, in this order, absent ones left out: level, time, pid, method, url, status, cache, bytes, ms, client,
 * host, userAgent, referer, requestId, originStatus, originMs, coalesced, encoding, body, shed, error, aborted, msg ("access"). The
 * same shape as pino's lines (level, time as isoTime writes it, pid first; msg last).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Trace } from './trace.js'
import { wallAt } from './clock.js'
import { MADE_ID_PREFIX } from './request-id.js'

/** Where lines are written: room for `bytes` more at `length`, then `commit` where the line ended. */
export interface LineSink {
  readonly length: number
  reserve (bytes: number): Buffer
  commit (end: number): void
}

const PID = process.pid
const OPEN = '{"level":30,"time":'
const CLOSE = Buffer.from(',"msg":"access"}\n')
const REQUEST_ID = ',"requestId":"'
/** Room for what is not in the two memoised runs: time, ms, request id (128 at most: request-id.ts), rarer fields. */
const SLACK_BYTES = 512

/** A run of fields encoded once and reused while the values it was made from repeat. */
interface Run {
  bytes: Buffer
  a: unknown
  b: unknown
  c: unknown
  d: unknown
  e: unknown
  /** The request run only: the time its stamp was copied for, and the stamp's length. */
  time: number
  stampLength: number
}

const EMPTY_RUN = (): Run => ({ bytes: Buffer.alloc(0), a: null, b: null, c: null, d: null, e: null, time: -1, stampLength: -1 })
/**
 * The line's opening: the stamp (stampBytes) then `,"pid":…,"method":…,"url":…,"status":…,"cache":…,"bytes":…,"ms":`.
 * One copy into the line where two were (TypedArray#set is a builtin call of about 160 instructions, callgrind); the
 * stamp is copied into the run once per millisecond.
 */
const request: Run = EMPTY_RUN()
/** `,"client":…,"host":…,"userAgent":…,"referer":…`, and `,"requestId":"` when an id follows */
const peer: Run = EMPTY_RUN()

function openingRun (now: number, method: string, url: string, status: number, cache: string, bytes: number): Buffer {
  const same = request.a === method && request.b === url && request.c === status && request.d === cache && request.e === bytes
  if (same && request.time === now) return request.bytes
  const stamp = stampBytes(now)
  if (!same || request.stampLength !== stamp.length) {
    const fields = `,"pid":${PID},"method":${jsonString(method)},"url":${jsonString(url)},"status":${status},"cache":"${cache}","bytes":${bytes},"ms":`
    const run = Buffer.allocUnsafe(stamp.length + Buffer.byteLength(fields))
    run.set(stamp, 0)
    run.write(fields, stamp.length)
    request.bytes = run
    request.a = method
    request.b = url
    request.c = status
    request.d = cache
    request.e = bytes
    request.stampLength = stamp.length
  } else {
    request.bytes.set(stamp, 0)
  }
  request.time = now
  return request.bytes
}

function peerRun (client: string | undefined, host: string | undefined, userAgent: string | undefined, referer: string | undefined, withId: boolean): Buffer {
  if (peer.a !== client || peer.b !== host || peer.c !== userAgent || peer.d !== referer || peer.e !== withId) {
    let text = ''
    if (client !== undefined) text += `,"client":${jsonString(client)}`
    if (host !== undefined) text += `,"host":${jsonString(host)}`
    if (userAgent !== undefined) text += `,"userAgent":${jsonString(userAgent)}`
    if (referer !== undefined) text += `,"referer":${jsonString(referer)}`
    if (withId) text += REQUEST_ID
    peer.bytes = Buffer.from(text)
    peer.a = client
    peer.b = host
    peer.c = userAgent
    peer.d = referer
    peer.e = withId
  }
  return peer.bytes
}

/**
 * One access line for a finished (or abandoned) response, `ms` after its start, into `sink`. The line's time is the
 * start plus `ms`, read from the same clock reading (a clock read is a tenth of a µs on a busy machine).
 */
export function writeAccessLineTo (sink: LineSink, trace: Trace, res: ServerResponse, ms: number): void {
  const req = res.req
  const { headers } = req
  const head = openingRun(wallAt(trace.start + ms), req.method ?? '', req.url ?? '', res.statusCode, trace.xCache ?? 'ERROR', trace.bytes)
  const id = trace.requestId
  const who = peerRun(clientAddress(req), headers.host, headers['user-agent'], headers.referer, id !== null)
  const buf = sink.reserve(head.length + who.length + SLACK_BYTES)
  let at = copyBytes(buf, sink.length, head)
  at = writeHundredths(buf, at, ms)
  at = copyBytes(buf, at, who)
  if (id !== null) {
    at = trace.madeId !== 0 ? writeMadeRequestId(buf, at, trace.madeId) : writeAscii(buf, at, id)
    buf[at++] = QUOTE
  }
  if (trace.originStatus !== 0) {
    at = writeAscii(buf, at, ',"originStatus":')
    at = writeInteger(buf, at, trace.originStatus)
    at = writeAscii(buf, at, ',"originMs":')
    at = writeHundredths(buf, at, trace.originMs)
  }
  if (trace.coalesced) at = writeAscii(buf, at, ',"coalesced":true')
  // The content coding sent (fill-compress.ts made it); absent for identity, so a plain line costs nothing more.
  if (trace.encoding !== null) at = writeAscii(buf, at, `,"encoding":"${trace.encoding}"`)
  // How a body that was not one stored buffer went out (streamed while filling, or read from chunks).
  if (trace.body !== null) at = writeAscii(buf, at, `,"body":"${trace.body}"`)
  if (trace.shed !== null) at = writeAscii(buf, at, `,"shed":"${trace.shed}"`)
  if (trace.error !== null) at = writeAscii(buf, at, `,"error":"${trace.error}"`)
  if (!res.writableEnded) at = writeAscii(buf, at, ',"aborted":true')
  at = copyBytes(buf, at, CLOSE)
  sink.commit(at)
}

/** The peer's address; undefined once node has let go of the socket (a response closed after its socket did). */
export function clientAddress (req: IncomingMessage): string | undefined {
  return (req.socket as Socket | null)?.remoteAddress
}

const QUOTE = 0x22
const ZERO = 0x30
const DOT = 0x2e

/** A run of bytes (TypedArray#set: a memmove, faster than a loop for these 20-100 bytes in a node:20 micro-benchmark). */
function copyBytes (buf: Buffer, at: number, bytes: Buffer): number {
  buf.set(bytes, at)
  return at + bytes.length
}

/**
 * Text known to be ASCII without anything JSON escapes (request ids pass request-id.ts's token check; shed reasons
 * and error codes are corral's own words), one byte per character.
 */
function writeAscii (buf: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) buf[at + i] = text.charCodeAt(i)
  return at + text.length
}

/** A non-negative integer's decimal digits. */
export function writeInteger (buf: Buffer, at: number, n: number): number {
  return writeDigits(buf, at, n, 10)
}

/** `n`'s digits in `radix` (up to 36, letters in lower case). */
function writeDigits (buf: Buffer, at: number, n: number, radix: number): number {
  if (n < radix) {
    buf[at] = digit(n)
    return at + 1
  }
  // Small integers (all but a clock's worth of milliseconds) in int32 arithmetic, which the optimiser keeps in
  // registers; larger ones (up to 2^53) in doubles.
  const small = n < 0x7fffffff
  let digits = 1
  for (let x = n; x >= radix; x = small ? (x / radix) | 0 : Math.floor(x / radix)) digits++
  let x = n
  for (let i = at + digits - 1; i >= at; i--) {
    const q = small ? (x / radix) | 0 : Math.floor(x / radix)
    buf[i] = digit(x - q * radix)
    x = q
  }
  return at + digits
}

function digit (d: number): number {
  return d < 10 ? ZERO + d : LOWER_A - 10 + d
}

const LOWER_A = 0x61

/**
 * The id made here as number `n` (request-id.ts: the prefix, then the number in base 36): the same characters as its
 * string, which V8 keeps as a rope once it is over 12 characters, and reading a rope char by char flattens it first (a
 * runtime call: 70 ns of a 300 ns line).
 */
export function writeMadeRequestId (buf: Buffer, at: number, n: number): number {
  for (let i = 0; i < ID_PREFIX.length; i++) buf[at + i] = ID_PREFIX[i] as number
  return writeDigits(buf, at + ID_PREFIX.length, n, 36)
}

/** Held here: an imported binding is read through its module's cell on every use. */
const ID_PREFIX = MADE_ID_PREFIX

/**
 * Milliseconds to two decimals, as JSON number text ("0.07", "12.30"), without turning a double into text (a V8
 * runtime call). A value that is not a finite non-negative number (a clock step backwards) is written as 0.00.
 */
export function writeHundredths (buf: Buffer, at: number, ms: number): number {
  const total = ms >= 0 && ms < Number.MAX_SAFE_INTEGER / 100 ? Math.round(ms * 100) : 0
  const whole = Math.floor(total / 100)
  const rest = total - whole * 100
  at = writeInteger(buf, at, whole)
  buf[at] = DOT
  buf[at + 1] = ZERO + Math.floor(rest / 10)
  buf[at + 2] = ZERO + rest % 10
  return at + 3
}

let lastTime = -1
/** The second `lastStamp` was made in, as epoch ms; its milliseconds are rewritten in place within that second. */
let secondStart = -1
let lastStamp = Buffer.alloc(0)
/** `{"level":30,"time":"2026-12-06T21:53:00.123Z"`: the milliseconds at 40-42 (a year of four digits). */
const STAMP_BYTES = OPEN.length + 26
const MS_AT = OPEN.length + 21

/**
 * The line's opening, level and time, the time as pino's isoTime writes it (a quoted ISO 8601 string): toISOString
 * once per second, the milliseconds written as digits within it (a Date and toISOString per millisecond were a quarter
 * of a µs per request at 20k requests/s, --cpu-prof). Callers copy the bytes at once.
 */
export function stampBytes (now: number): Buffer {
  if (now === lastTime) return lastStamp
  lastTime = now
  const ms = now - secondStart
  if (ms >= 0 && ms < 1000 && lastStamp.length === STAMP_BYTES) {
    lastStamp[MS_AT] = ZERO + Math.floor(ms / 100)
    lastStamp[MS_AT + 1] = ZERO + Math.floor(ms / 10) % 10
    lastStamp[MS_AT + 2] = ZERO + ms % 10
    return lastStamp
  }
  lastStamp = Buffer.from(`${OPEN}"${new Date(now).toISOString()}"`)
  secondStart = now - (((now % 1000) + 1000) % 1000)
  return lastStamp
}

/** What JSON must escape in a string (RFC 8259 §7). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/

/** A request target or header as a JSON string: JSON.stringify (a runtime call) only when something needs escaping. */
function jsonString (text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`
}
