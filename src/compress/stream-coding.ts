/**
 * compress/stream-coding: one content coding made while a fill's identity body arrives (Varnish's do_gzip on a
 * streaming fetch). It reads the identity GrowingBody as one more reader, feeds what has arrived to a node:zlib stream
 * and flushes it after each batch, so every byte the origin sent can be decoded by the client as soon as it is sent;
 * the output is itself a GrowingBody (unsized: its clients get chunked transfer encoding) that any number of clients
 * read at their own pace. One compressor per coding per fill, never one per client.  [I/O: node:zlib's thread pool]
 *
 * Its output is bounded like the identity stream: a buffer bounded a little over the identity's bound (coded text
 * is far smaller; an incompressible body grows by a few bytes per flush). Past it, the clients already reading are
 * relayed to and no new one joins (they get identity). A failed identity body fails the coded one, so its clients see
 * a reset, never a short body that decodes as if whole.
 */
import * as zlib from 'node:zlib'
import { performance } from 'node:perf_hooks'
import type { Transform } from 'node:stream'
import type { ContentCoding } from '../core/entry.js'
import { GrowingBody } from '../origin/growing-body.js'
import type { Levels } from './codings.js'

/** The codings this runtime can make as a stream (zstd's stream needs Node 22.15+: not offered on the fly here). */
export function isStreamCoding (coding: ContentCoding): boolean {
  return coding === 'br' || coding === 'gzip'
}

/** A coded stream that ended whole: what it took and made, the time spent, and how many flushes cut it. */
export interface StreamCoded {
  readonly inBytes: number
  readonly outBytes: number
  readonly seconds: number
  readonly flushes: number
}

export interface StreamCoding {
  /** The coded bytes as they are made; unsized (clients get chunked transfer encoding). */
  readonly body: GrowingBody
  /** Settles once the stream ended: what it came to, or null when it failed. Never rejects. */
  readonly ended: Promise<StreamCoded | null>
}

/**
 * Starts coding `source` into a new unsized GrowingBody of `capacity` bytes; the body ends when the coded stream is
 * complete, or fails with the identity body (or a zlib error).
 */
export function startStreamCoding (source: GrowingBody, coding: ContentCoding, levels: Levels, capacity: number): StreamCoding {
  const out = new GrowingBody(null, capacity)
  const z = makeStream(coding, levels, source.length)
  let outBytes = 0
  // An error is handled where a write or the end waits for it (pump); this keeps one emitted between them from being
  // an uncaught exception that would stop the process.
  z.on('error', noop)
  z.on('data', (chunk: Buffer) => {
    outBytes += chunk.length
    out.append(chunk)
  })
  const ended = pump(source, out, z, coding).then(({ flushes, seconds }): StreamCoded => {
    return { inBytes: source.filled, outBytes, seconds, flushes }
  }, (err: unknown) => {
    out.fail(err instanceof Error ? err : new Error(String(err)))
    z.destroy()
    return null
  })
  return { body: out, ended }
}

function makeStream (coding: ContentCoding, levels: Levels, length: number): Transform {
  if (coding === 'gzip') return zlib.createGzip({ level: levels.gzipLevel })
  if (coding !== 'br') throw new Error(`${coding} is not made as a stream`)
  const params: Record<number, number> = {
    [zlib.constants.BROTLI_PARAM_QUALITY]: levels.brotliQuality,
    [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT
  }
  if (length > 0) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = length
  return zlib.createBrotliCompress({ params })
}

/**
 * Reads the identity body in order and codes each batch that has arrived since the last: a flush per batch, not per
 * origin read, so a busy loop (many reads queued) makes fewer, larger deflate blocks.
 */
/** Resolves with the flushes made and the seconds spent coding (not waiting for the origin). */
async function pump (source: GrowingBody, out: GrowingBody, z: Transform, coding: ContentCoding): Promise<{ flushes: number, seconds: number }> {
  // Z_SYNC_FLUSH (RFC 1951 §3.2.4's empty stored block) and brotli's FLUSH both end the output on a byte a decoder can
  // act on, and keep the window: later blocks still refer back to earlier text, which a full flush would forget.
  const flushKind = coding === 'gzip' ? zlib.constants.Z_SYNC_FLUSH : zlib.constants.BROTLI_OPERATION_FLUSH
  let at = 0
  let flushes = 0
  let ms = 0
  for (;;) {
    await source.whenFilled(at + 1)
    if (out.state === 'failed') throw new Error('coded stream failed')
    if (source.state === 'failed') throw new Error('origin body failed')
    const filled = source.filled
    if (filled > at) {
      // Past the identity buffer the relay keeps only what its clients still need: nothing is left to code from.
      if (source.overflowed) throw new Error('identity body relayed past its buffer')
      const started = performance.now()
      await writeFlushed(z, source.buffer.subarray(at, filled), flushKind)
      ms += performance.now() - started
      flushes++
      at = filled
      continue
    }
    if (source.state === 'complete') break
  }
  const started = performance.now()
  await new Promise<void>((resolve, reject) => {
    z.once('end', resolve)
    z.once('error', reject)
    z.end()
  })
  if (!out.end()) throw new Error('coded stream failed')
  return { flushes, seconds: (ms + performance.now() - started) / 1000 }
}

async function writeFlushed (z: Transform, chunk: Buffer, kind: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err)
    z.once('error', onError)
    z.write(chunk)
    ;(z as unknown as zlib.Zlib).flush(kind, () => {
      z.off('error', onError)
      resolve()
    })
  })
}

function noop (): void {}
