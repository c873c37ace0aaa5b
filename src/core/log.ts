/** The pino logger and the shape of the access line. */
import type { ServerResponse } from 'node:http'
import { fstatSync, type Stats } from 'node:fs'
import pino, { type Logger, type DestinationStream } from 'pino'
import type { Trace } from './trace.js'
import { prettyDestination } from './pretty-log.js'
import { clientAddress, writeAccessLineTo, writeHundredths, type LineSink } from './access-line.js'
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
    (format === 'pretty'
      ? prettyDestination()
      : new ChunkedDestination(pino.destination({ dest: 1, sync: true, contentMode: 'buffer' }) as unknown as ChunkTarget, { maxBytes: chunkBytesFor(stdoutKind()) }))
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest)
}

interface ChunkTarget {
  write (chunk: Buffer): unknown
}

/** Linux's PIPE_BUF: a write of at most this many bytes to a pipe is never interleaved with another writer's. */
const PIPE_BUF = 4096

/**
 * A chunk's bytes for what stdout is: PIPE_BUF for a pipe or a socket (a cluster's workers may share it, and only
 * writes of at most PIPE_BUF land whole), 32 KiB for a file or a terminal, where a write lands whole at any size:
 * one write(2) per 4 KiB was a third of the access line's cost at 20k requests/s (--cpu-prof, bench:profile-hit).
 */
export function chunkBytesFor (stdout: { isFIFO (): boolean, isSocket (): boolean } | null): number {
  return stdout === null || stdout.isFIFO() || stdout.isSocket() ? PIPE_BUF : FILE_CHUNK_BYTES
}

const FILE_CHUNK_BYTES = 32 * 1024

/** fstat of fd 1; null when it cannot be read (then the pipe's size, the safe one). */
function stdoutKind (): Stats | null {
  try {
    return fstatSync(1)
  } catch {
    return null
  }
}

/**
 * The lines are written into a slab of this many bytes, chunk after chunk, and each chunk goes out as a view of it:
 * no chunk is copied or allocated on its own (a 4 KiB Buffer per chunk was 35 ns of a 255 ns line at PIPE_BUF
 * chunks). A full slab is left to the views still held (sonic-boom may keep one it could not write yet).
 */
const SLAB_BYTES = 256 * 1024

/**
 * Log lines gathered into chunks of bytes before they reach sonic-boom, which measures its whole pending buffer
 * (Buffer.byteLength over a growing rope) on every write: about a microsecond per access line (--perf, bench
 * section 1). pino's lines are encoded into the chunk as they come; access lines are written into it as bytes
 * (access-line.ts, through LineSink). pino's lines and the access lines share this one buffer, so their order is kept.
 *
 * A chunk is whole lines and at most PIPE_BUF bytes (a longer line goes alone): the workers of a cluster share
 * stdout, and when it is a pipe, writes of that size land whole, so two workers' lines never cut into each other.
 */
export class ChunkedDestination implements DestinationStream, LineSink {
  readonly #target: ChunkTarget
  readonly #maxBytes: number
  #slab = Buffer.allocUnsafe(SLAB_BYTES)
  /** Where the chunk not yet written starts in the slab, and where its last whole line ends. */
  #chunkStart = 0
  #length = 0

  constructor (target: ChunkTarget, { maxBytes = PIPE_BUF, flushMs = 250 }: { maxBytes?: number, flushMs?: number } = {}) {
    this.#target = target
    this.#maxBytes = maxBytes
    setInterval(() => this.flushSync(), flushMs).unref()
    // A process that exits without flushLogger (process.exit from a library, an uncaught error) still writes its
    // last lines: the target is synchronous.
    process.once('exit', () => this.flushSync())
  }

  write (line: string): void {
    const buf = this.reserve(line.length * 3)
    this.commit(this.#length + buf.write(line, this.#length, 'utf8'))
  }

  get length (): number {
    return this.#length
  }

  /** The slab, with room for a line of up to `bytes` at `length`: a new one when this one is full. */
  reserve (bytes: number): Buffer {
    if (this.#length + bytes > this.#slab.length) {
      this.flushSync()
      this.#slab = Buffer.allocUnsafe(Math.max(bytes, SLAB_BYTES))
      this.#chunkStart = 0
      this.#length = 0
    }
    return this.#slab
  }

  /** A line was written from `length` up to `end`: a chunk it would take past maxBytes goes out without it. */
  commit (end: number): void {
    const start = this.#length
    if (end <= start) return
    if (end - this.#chunkStart > this.#maxBytes && start > this.#chunkStart) this.#emit(start)
    this.#length = end
    if (end - this.#chunkStart >= this.#maxBytes) this.#emit(end)
  }

  /** pino's logger.flush(). */
  flush (cb?: (err?: Error) => void): void {
    this.flushSync()
    cb?.()
  }

  flushSync (): void {
    if (this.#length > this.#chunkStart) this.#emit(this.#length)
  }

  /** The chunk up to `end` goes out as a view of the slab; the next one starts there. */
  #emit (end: number): void {
    const chunk = this.#slab.subarray(this.#chunkStart, end)
    this.#chunkStart = end
    this.#target.write(chunk)
  }
}

export function flushLogger (logger: Logger): void {
  try {
    logger.flush()
  } catch {}
}

/**
 * The access line: one per request, fields in a fixed order, absent values left out (access-line.ts). `client` is
 * the peer address (the balancer's, behind one; the origin gets X-Forwarded-For), `bytes` the body bytes handed to
 * the socket (a streamed answer's Content-Length; `aborted` marks one the client left before the end).
 */
export function writeAccessLine (logger: Logger, trace: Trace, res: ServerResponse, ms: number, withTrace: boolean): void {
  if (withTrace) return writeTracedAccessLine(logger, trace, res, ms)
  if (logger !== sinkLogger) sinkOf(logger)
  if (infoEnabled) writeAccessLineTo(sink, trace, res, ms)
}

/** A LineSink that hands each line to a destination stream as a string. */
class StringSink implements LineSink {
  readonly #stream: DestinationStream | null
  #buf = Buffer.allocUnsafe(1024)
  readonly length = 0

  constructor (stream: DestinationStream | null) {
    this.#stream = stream
  }

  reserve (bytes: number): Buffer {
    if (bytes > this.#buf.length) this.#buf = Buffer.allocUnsafe(bytes)
    return this.#buf
  }

  commit (end: number): void {
    this.#stream?.write(this.#buf.toString('utf8', 0, end))
  }
}

/** The last logger's line sink: looking it up on a pino logger (a symbol-keyed property) cost more than the line. */
let sinkLogger: Logger | null = null
let sink: LineSink = new StringSink(null)
/**
 * Whether that logger writes info lines, kept up to date by pino's `level-change` event (a reload sets the level):
 * isLevelEnabled per line was four generic property loads, about 300 instructions (bench/hit-instructions.ts --log).
 */
let infoEnabled = false
const watchedLevels = new WeakSet<Logger>()

/** A ChunkedDestination takes the line's bytes; any other destination (pino-pretty, a test's) the same as a string. */
function sinkOf (logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, DestinationStream | undefined>)[pino.symbols.streamSym] ?? null
  sinkLogger = logger
  sink = stream instanceof ChunkedDestination ? stream : new StringSink(stream)
  infoEnabled = logger.isLevelEnabled('info')
  if (!watchedLevels.has(logger)) {
    watchedLevels.add(logger)
    logger.on('level-change', onLevelChange)
  }
}

function onLevelChange (this: Logger): void {
  if (this === sinkLogger) infoEnabled = this.isLevelEnabled('info')
}

/** With the trace flag on: every field, through pino (a diagnostic mode, not the hot path). */
function writeTracedAccessLine (logger: Logger, trace: Trace, res: ServerResponse, ms: number): void {
  const req = res.req
  const { headers } = req
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
    encoding: trace.encoding ?? undefined,
    body: trace.body ?? undefined,
    originStatus: trace.originStatus === 0 ? undefined : trace.originStatus,
    originMs: trace.originStatus === 0 ? undefined : Math.round(trace.originMs * 100) / 100,
    shed: trace.shed ?? undefined,
    error: trace.error ?? undefined,
    aborted: res.writableEnded ? undefined : true
  }, 'access')
}

const HUNDREDTHS = Buffer.alloc(32)

/** Milliseconds to two decimals, as JSON number text ("0.07", "12.30"), as the access line writes them. */
export function hundredths (ms: number): string {
  return HUNDREDTHS.toString('latin1', 0, writeHundredths(HUNDREDTHS, 0, ms))
}
