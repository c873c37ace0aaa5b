/**
 * fill-stream-codings: a compressible answer that streams while it arrives (origin/growing-fill.ts) is offered in the
 * codings corral will store it with, made on the fly (compress/stream-coding.ts), so the first wave's clients get
 * their coding with the origin's first bytes instead of waiting for the whole body and its compression. Each coding's
 * compressor starts when the first client taking it arrives (a wave of identity clients costs no compression) and
 * catches up from the identity bytes kept so far; later clients of that coding read the same output.
 *
 * The heads say what a hit on the stored entry will say (core/coded-body.ts): identity gains `Vary: Accept-Encoding`,
 * a coded one carries its Content-Encoding and the weak, suffixed entity-tag, and no Content-Length (chunked).
 *
 * A coding streamed whole is stored as it is when its flushes were few (REUSE_FROM_BATCH_BYTES), saving the fill that
 * compression; one cut by many small flushes (an origin dripping small reads) is made anew from the whole body
 * (fill-compress.ts), since each flush costs bytes that every later hit would carry.
 */
import type { ContentCoding, StoredEntry } from './core/entry.js'
import { addVaryAcceptEncoding, makeCodedBody, type RawCoded } from './core/coded-body.js'
import { GrowingBody } from './origin/growing-body.js'
import { STREAM_FROM_BYTES, type CodedStream, type OnGrowing, type StreamCodings } from './origin/growing-fill.js'
import { isStreamCoding, startStreamCoding } from './compress/stream-coding.js'
import type { CompressContext } from './fill-compress.js'

/**
 * Streamed with 8 flushes of 64 KiB, a 512 KiB page's gzip is 0.1% larger than made in one go and its br 0.3%; with
 * 32 KiB reads 0.5% and 1.0%; 16 KiB, 1.3% and 2.2%; 4 KiB, 6% and 8%; 1 KiB, 22% and 24% (bench/page.ts, default levels).
 */
const REUSE_FROM_BATCH_BYTES = 32 * 1024

export interface FillStreamCodings {
  /** `onGrowing` for the fill: its clients get the identity head with Vary, and the codings. */
  readonly announce: OnGrowing
  /** Once the body is whole: the codings streamed whole with few enough flushes to be stored as they are. */
  made (): Promise<readonly RawCoded[]>
}

export function makeStreamCodings (onGrowing: OnGrowing, ctx: CompressContext): FillStreamCodings {
  let offered: FillCodings | null = null
  return {
    announce: (growing) => {
      const flat = growing.head.headers.slice()
      addVaryAcceptEncoding(flat)
      const head: StoredEntry = { ...growing.head, headers: flat }
      const codings = ctx.settings.codings.filter(isStreamCoding)
      if (!(growing.body instanceof GrowingBody) || codings.length === 0) {
        onGrowing({ ...growing, head })
        return
      }
      offered = new FillCodings(head, growing.body, codings, ctx)
      onGrowing({ ...growing, head, coded: offered })
    },
    made: async () => offered === null ? NONE : await offered.made()
  }
}

const NONE: readonly RawCoded[] = Object.freeze([])

class FillCodings implements StreamCodings {
  readonly codings: readonly ContentCoding[]
  readonly #head: StoredEntry
  readonly #source: GrowingBody
  readonly #ctx: CompressContext
  readonly #streams = new Map<ContentCoding, CodedStream>()
  readonly #reusable: Array<Promise<RawCoded | null>> = []

  constructor (head: StoredEntry, source: GrowingBody, codings: readonly ContentCoding[], ctx: CompressContext) {
    this.codings = codings
    this.#head = head
    this.#source = source
    this.#ctx = ctx
  }

  open (coding: ContentCoding): CodedStream | null {
    if (!this.codings.includes(coding)) return null
    let stream = this.#streams.get(coding)
    if (stream === undefined) {
      const { settings, meter } = this.#ctx
      // A little over the identity's bound: text codes to a fraction of it, incompressible bytes grow by a few per flush.
      const bound = Math.min(this.#source.capacity, settings.maxBytes)
      const capacity = bound + (bound >> 2) + STREAM_FROM_BYTES
      const { body, ended } = startStreamCoding(this.#source, coding, settings, capacity)
      this.#reusable.push(ended.then((coded) => {
        if (coded === null) return null
        meter.encoded(coding, coded.inBytes, coded.outBytes, coded.seconds)
        if (body.overflowed || coded.inBytes / Math.max(1, coded.flushes) < REUSE_FROM_BATCH_BYTES) return null
        return { coding, body: body.whole() }
      }))
      stream = { head: codedHead(this.#head, coding), body }
      this.#streams.set(coding, stream)
    }
    return stream.body.canJoin(0) ? stream : null
  }

  async made (): Promise<readonly RawCoded[]> {
    const made = await Promise.all(this.#reusable)
    return made.filter((c): c is RawCoded => c !== null)
  }
}

/** The coded representation's head: the identity fields with its Content-Encoding and ETag, no Content-Length. */
function codedHead (identity: StoredEntry, coding: ContentCoding): StoredEntry {
  const coded = makeCodedBody(identity.headers, identity.etag, coding, EMPTY)
  const headers: string[] = []
  for (let i = 0; i < coded.headers.length; i += 2) {
    if (coded.headers[i] !== 'content-length') headers.push(coded.headers[i] as string, coded.headers[i + 1] as string)
  }
  return { ...identity, headers, etag: coded.etag }
}

const EMPTY = Buffer.alloc(0)
