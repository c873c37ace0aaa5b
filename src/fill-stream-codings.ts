/**
 * fill-stream-codings: a compressible answer that streams while it arrives (origin/growing-fill.ts) is offered in the
 * codings corral will store it with, made on the fly (compress/stream-coding.ts), so the first wave's clients get
 * their coding with the origin's first bytes instead of waiting for the whole body and its compression. Each coding's
 * compressor starts when the first client taking it arrives (a wave of identity clients costs no compression) and
 * catches up from the identity bytes kept so far; later clients of that coding read the same output.
 *
 * The heads say what a hit on the stored entry will say (core/coded-body.ts): identity gains `Vary: Accept-Encoding`,
 * a coded one carries its Content-Encoding and the weak, suffixed entity-tag, and no Content-Length (chunked).
 * The stored entry's coded bodies are made anew from the whole identity body (fill-compress.ts), as for any page.
 */
import type { ContentCoding, StoredEntry } from './core/entry.js'
import { addVaryAcceptEncoding, makeCodedBody } from './core/coded-body.js'
import { GrowingBody } from './origin/growing-body.js'
import { STREAM_FROM_BYTES, type CodedStream, type GrowingFill, type OnGrowing, type StreamCodings } from './origin/growing-fill.js'
import { isStreamCoding, startStreamCoding } from './compress/stream-coding.js'
import type { CompressContext } from './fill-compress.js'

/** `onGrowing` for an answer the fill will compress: its clients get the identity head with Vary, and the codings. */
export function withStreamCodings (onGrowing: OnGrowing, ctx: CompressContext): OnGrowing {
  return (growing) => { onGrowing(codedFill(growing, ctx)) }
}

function codedFill (growing: GrowingFill, ctx: CompressContext): GrowingFill {
  const flat = growing.head.headers.slice()
  addVaryAcceptEncoding(flat)
  const head: StoredEntry = { ...growing.head, headers: flat }
  const codings = ctx.settings.codings.filter(isStreamCoding)
  if (!(growing.body instanceof GrowingBody) || codings.length === 0) return { ...growing, head }
  return { ...growing, head, coded: new FillCodings(head, growing.body, codings, ctx) }
}

class FillCodings implements StreamCodings {
  readonly codings: readonly ContentCoding[]
  readonly #head: StoredEntry
  readonly #source: GrowingBody
  readonly #ctx: CompressContext
  readonly #streams = new Map<ContentCoding, CodedStream>()

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
      const bound = Math.min(this.#source.buffer.length, settings.maxBytes)
      const capacity = bound + (bound >> 2) + STREAM_FROM_BYTES
      const body = startStreamCoding(this.#source, coding, settings, capacity, (inBytes, outBytes, seconds) => {
        meter.encoded(coding, inBytes, outBytes, seconds)
      })
      stream = { head: codedHead(this.#head, coding), body }
      this.#streams.set(coding, stream)
    }
    return stream.body.canJoin(0) ? stream : null
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
