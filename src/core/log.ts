/** The pino logger and the shape of the access line. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import pino, { type Logger, type DestinationStream } from 'pino'
import type { Trace } from './trace.js'
import { wallNow } from './clock.js'
import { createRequire } from 'node:module'
import type { LogFormat, LogLevel } from './log-options.js'

export type { Logger }

/**
 * stdout through a synchronous sonic-boom fed in chunks of up to 4 KiB (ChunkedDestination): one write per line
 * cost a third of a cache hit's throughput (bench section 1, log on / log off). A quiet proxy's lines wait at most
 * 250 ms; `flushLogger` runs on shutdown and the chunk in hand is written on exit, so nothing is lost.
 * `format: 'pretty'` writes through pino-pretty instead, one line at a time, for a person at a terminal.
 * Times are ISO 8601 (UTC), as everywhere else corral shows a time (/flags, metrics' labels, the CLI).
 */
export function makeLogger (level: LogLevel, destination?: DestinationStream, format: LogFormat = 'json'): Logger {
  // In buffer mode sonic-boom's write takes a Buffer; its types only describe the string mode.
  const dest = destination ??
    (format === 'pretty' ? prettyDestination() : new ChunkedDestination(pino.destination({ dest: 1, sync: true, contentMode: 'buffer' }) as unknown as ChunkTarget))
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest)
}

/** pino-pretty, loaded only when asked for: most processes never need it, and it costs start-up time. */
function prettyDestination (): DestinationStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as (options: Record<string, unknown>) => DestinationStream
  return pretty({ colorize: process.stdout.isTTY, sync: true, destination: 1, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' })
}

interface ChunkTarget {
  write (chunk: Buffer): unknown
}

/** Linux's PIPE_BUF: a write of at most this many bytes to a pipe is never interleaved with another writer's. */
const PIPE_BUF = 4096

/**
 * Log lines gathered into chunks before they reach sonic-boom, which measures its whole pending buffer
 * (Buffer.byteLength over a growing rope) on every write: about a microsecond per access line (--perf, bench
 * section 1). Joined here and handed over as one Buffer (sonic-boom's string mode encodes a chunk twice more), each
 * chunk is encoded and written once. pino's lines and the access lines share this one queue, so their order is kept.
 *
 * A chunk is whole lines and at most PIPE_BUF bytes (a longer line goes alone): the workers of a cluster share
 * stdout, and when it is a pipe, writes of that size land whole, so two workers' lines never cut into each other.
 */
export class ChunkedDestination implements DestinationStream {
  readonly #target: ChunkTarget
  readonly #maxBytes: number
  #lines: string[] = []
  #chars = 0

  constructor (target: ChunkTarget, { maxBytes = PIPE_BUF, flushMs = 250 }: { maxBytes?: number, flushMs?: number } = {}) {
    this.#target = target
    this.#maxBytes = maxBytes
    setInterval(() => this.flushSync(), flushMs).unref()
    // A process that exits without flushLogger (process.exit from a library, an uncaught error) still writes its
    // last lines: the target is synchronous.
    process.once('exit', () => this.flushSync())
  }

  write (line: string): void {
    // Characters count bytes for ASCII, which log lines almost always are; flushSync splits a chunk that came out
    // longer in bytes.
    if (this.#chars + line.length > this.#maxBytes && this.#lines.length > 0) this.flushSync()
    this.#lines.push(line)
    this.#chars += line.length
    if (this.#chars >= this.#maxBytes) this.flushSync()
  }

  /** pino's logger.flush(). */
  flush (cb?: (err?: Error) => void): void {
    this.flushSync()
    cb?.()
  }

  flushSync (): void {
    const lines = this.#lines
    if (lines.length === 0) return
    this.#lines = []
    this.#chars = 0
    const chunk = Buffer.from(lines.length === 1 ? lines[0] as string : lines.join(''))
    if (chunk.length <= this.#maxBytes || lines.length === 1) {
      this.#target.write(chunk)
      return
    }
    // Multi-byte characters made the chunk longer than its character count: write it in runs of whole lines.
    let start = 0
    let end = 0
    for (const line of lines) {
      const bytes = Buffer.byteLength(line)
      if (end + bytes - start > this.#maxBytes && end > start) {
        this.#target.write(chunk.subarray(start, end))
        start = end
      }
      end += bytes
    }
    this.#target.write(chunk.subarray(start))
  }
}

export function flushLogger (logger: Logger): void {
  try {
    logger.flush()
  } catch {}
}

const PID = process.pid

/**
 * The access line: one per request, fields in a fixed order, absent values left out. `client` is the peer address
 * (the balancer's, behind one; the origin gets X-Forwarded-For), `bytes` the body bytes handed to the socket (a
 * streamed answer's Content-Length; `aborted` marks one the client left before the end).
 */
export function writeAccessLine (logger: Logger, trace: Trace, res: ServerResponse, ms: number, withTrace: boolean): void {
  const req = res.req
  const { headers } = req
  if (withTrace) {
    logger.info({
      method: req.method,
      url: req.url,
      status: res.statusCode,
      cache: trace.xCache,
      bytes: trace.bytes,
      ms: Math.round(ms * 100) / 100,
      client: clientAddress(req),
      host: headers.host,
      userAgent: headers['user-agent'],
      referer: headers.referer,
      requestId: trace.requestId ?? undefined,
      key: trace.key,
      route: trace.route,
      tier: trace.tier,
      lease: trace.lease ?? undefined,
      coalesced: trace.coalesced,
      originStatus: trace.originStatus === 0 ? undefined : trace.originStatus,
      originMs: trace.originStatus === 0 ? undefined : Math.round(trace.originMs * 100) / 100,
      shed: trace.shed ?? undefined,
      error: trace.error ?? undefined,
      aborted: res.writableEnded ? undefined : true
    }, 'access')
    return
  }
  if (!logger.isLevelEnabled('info')) return
  // Written by hand rather than through logger.info(object): pino's serialisation of a dozen fields cost a sixth of
  // a cache hit (bench section 1, log on / log off). Same shape as pino's lines: level, time, pid, fields, msg.
  let line = `{"level":30,"time":${timeText()},"pid":${PID},"method":"${req.method ?? ''}","url":${jsonString(req.url ?? '')},"status":${res.statusCode},"cache":"${trace.xCache ?? 'ERROR'}","bytes":${trace.bytes},"ms":${hundredths(ms)}`
  const client = clientAddress(req)
  if (client !== undefined) line += `,"client":"${client}"`
  const { host, referer } = headers
  const userAgent = headers['user-agent']
  if (host !== undefined) line += `,"host":${jsonString(host)}`
  if (userAgent !== undefined) line += `,"userAgent":${jsonString(userAgent)}`
  if (referer !== undefined) line += `,"referer":${jsonString(referer)}`
  if (trace.requestId !== null) line += `,"requestId":${jsonString(trace.requestId)}`
  if (trace.originStatus !== 0) line += `,"originStatus":${trace.originStatus},"originMs":${hundredths(trace.originMs)}`
  if (trace.coalesced) line += ',"coalesced":true'
  if (trace.shed !== null) line += `,"shed":"${trace.shed}"`
  if (trace.error !== null) line += `,"error":"${trace.error}"`
  if (!res.writableEnded) line += ',"aborted":true'
  ;(logger as unknown as Record<symbol, { write (line: string): void }>)[pino.symbols.streamSym]?.write(`${line},"msg":"access"}\n`)
}

/** The peer's address; undefined once node has let go of the socket (a response closed after its socket did). */
function clientAddress (req: IncomingMessage): string | undefined {
  return (req.socket as Socket | null)?.remoteAddress
}

/**
 * Numbers in the access line are written without turning a double into text, which V8 does in its runtime (a third
 * of the line's cost, --perf): the time's text is kept for the millisecond it stands for, and durations are written
 * as two small integers (small integers' text is cached).
 */
let lastTime = 0
let lastTimeText = '"1970-01-01T00:00:00.000Z"'

/** The time as pino's isoTime writes it (a quoted ISO 8601 string), made once per millisecond. */
function timeText (): string {
  const now = wallNow()
  if (now !== lastTime) {
    lastTime = now
    lastTimeText = `"${new Date(now).toISOString()}"`
  }
  return lastTimeText
}

/** Milliseconds to two decimals, as JSON number text ("0.07", "12.30"). */
export function hundredths (ms: number): string {
  const total = Math.round(ms * 100)
  const whole = Math.floor(total / 100)
  const rest = total - whole * 100
  return rest < 10 ? `${whole}.0${rest}` : `${whole}.${rest}`
}

/** What JSON must escape in a string (RFC 8259 §7). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/

/** A request target or header as a JSON string: JSON.stringify (a runtime call) only when something needs escaping. */
function jsonString (text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`
}
